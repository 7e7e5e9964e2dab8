/**
 * A transform module that fails its start — however it fails — makes createPipeline() reject with
 * a TransformError naming the module (`sluice run` exits 69), never a plain error without a code
 * (exit 70, "internal error"): what its body or setup() throws may be anything, and a module may
 * call process.exit() in the worker thread that loads it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/engine/pipeline.js';
import { TransformError } from '../../src/errors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const MESSAGE_GETTER_THROWS =
  'const e = new Error("x"); Object.defineProperty(e, "message", { get() { throw new Error("message getter"); } });';

describe('a transform module that fails its start', () => {
  it.each([
    [
      'whose setup() throws an object with no prototype',
      'export function setup() { throw Object.create(null); }\nexport default (e) => e;\n',
      'setup() failed: {} (cannot be rendered as text: TypeError: Cannot convert object to primitive value)',
    ],
    [
      'whose setup() throws an object whose toString throws',
      'export function setup() { throw { toString() { throw new Error("ts"); } }; }\nexport default (e) => e;\n',
      'setup() failed: {} (cannot be rendered as text: Error: ts)',
    ],
    [
      'whose setup() throws an Error whose message getter throws',
      `export function setup() { ${MESSAGE_GETTER_THROWS} throw e; }\nexport default (e) => e;\n`,
      'setup() failed: Error: (its message cannot be read: Error: message getter)',
    ],
    [
      'whose body throws an object with no prototype',
      'throw Object.create(null);\n',
      'cannot be loaded: {} (cannot be rendered as text: TypeError: Cannot convert object to primitive value)',
    ],
    [
      'whose lazyPayload export is an object with no prototype',
      'export const lazyPayload = Object.create(null);\nexport default (e) => e;\n',
      'the lazyPayload export must be a boolean, got object {} (cannot be rendered as text',
    ],
    [
      'whose setup() calls process.exit(5)',
      'export function setup() { process.exit(5); }\nexport default (e) => e;\n',
      'setup() failed: it called process.exit(5), which would end the worker thread',
    ],
    [
      'whose async setup() calls process.exit() after an await',
      'export async function setup() { await new Promise((r) => setTimeout(r, 10)); process.exit(); }\nexport default (e) => e;\n',
      'setup() failed: it called process.exit(), which would end the worker thread',
    ],
    [
      'whose body calls process.exit(3)',
      'process.exit(3);\nexport default (e) => e;\n',
      'cannot be loaded: it called process.exit(3), which would end the worker thread',
    ],
  ])('%s: createPipeline rejects with a TransformError naming it', async (_what, source, says) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-load-transform-'));
    dirs.push(dir);
    const module = join(dir, 'failing-transform.mjs');
    writeFileSync(module, source);
    const error = await failureOf(
      createPipeline({
        workers: { min: 1, max: 1 },
        transform: module,
        sink: { type: 'null' },
        deadLetter: { type: 'null' },
      }),
    );
    expect(error).toBeInstanceOf(TransformError);
    expect(error).toMatchObject({ code: 'SLUICE_TRANSFORM_ERROR', module });
    expect((error as Error).message).toContain(`transform ${module}: ${says}`);
  });
});
