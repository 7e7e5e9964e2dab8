import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../src/errors.js';
import { importOptional } from '../src/optional-package.js';

/** What Node's import() throws for a package that is not installed. */
function notFound(name: string): Error {
  return Object.assign(
    new Error(`Cannot find package '${name}' imported from /app/dist/src/optional-package.js`),
    {
      code: 'ERR_MODULE_NOT_FOUND',
    },
  );
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('importOptional', () => {
  it('a package that is not installed fails with SLUICE_INVALID_OPTION naming it and how to install it', async () => {
    const error = await failureOf(
      importOptional('pg', 'the postgres sink', ['pg', 'pg-copy-streams'], async (specifier) => {
        throw notFound(specifier);
      }),
    );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ code: 'SLUICE_INVALID_OPTION' });
    expect((error as Error).message).toBe(
      "the postgres sink needs the package 'pg', which is not installed: npm install pg pg-copy-streams",
    );
  });

  it('tells the same of a package Node itself cannot find', async () => {
    const error = await failureOf(importOptional('sluice-no-such-package', 'the test sink'));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toBe(
      "the test sink needs the package 'sluice-no-such-package', which is not installed: npm install sluice-no-such-package",
    );
  });

  it('a package that is there but cannot load what it imports is not reported as missing', async () => {
    const broken = notFound('pg-protocol');
    const error = await failureOf(
      importOptional('pg', 'the postgres sink', ['pg'], async () => {
        throw broken;
      }),
    );
    expect(error).toBe(broken);
  });

  it('resolves with the module when it is installed, importing it only when asked', async () => {
    const asked: string[] = [];
    const module = { default: 'client' };
    const loaded = await importOptional('nats', 'the nats-jetstream sink', ['nats'], async (specifier) => {
      asked.push(specifier);
      return module;
    });
    expect(loaded).toBe(module);
    expect(asked).toEqual(['nats']);
    const path = await importOptional<typeof import('node:path')>('node:path', 'a test');
    expect(path.join('a', 'b')).toBe('a/b');
  });
});
