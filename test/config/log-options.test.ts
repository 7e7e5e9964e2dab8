/**
 * log.destination is checked where it will be opened: a descriptor must be an open one, a path must
 * not be a directory — refused by validation naming the field and the value (`sluice validate`
 * exits 64, createPipeline rejects with an InvalidOptionError), not found out when every thread
 * opens it and the run fails as an internal error (EBADF, EISDIR: exit 70).
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveLogOptions } from '../../src/config/log-options.js';
import { resolvePipelineOptions } from '../../src/config/pipeline-options.js';
import { InvalidOptionError } from '../../src/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-log-options-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function problemsOf(destination: unknown): readonly string[] {
  try {
    resolvePipelineOptions({ log: { destination: destination as number } });
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as InvalidOptionError).problems;
  }
}

/** A descriptor number no open file has: one just closed. */
function closedFd(): number {
  const fd = openSync(join(dir, 'closed.log'), 'a');
  closeSync(fd);
  return fd;
}

describe('log.destination', () => {
  it('refuses a descriptor that is not open', () => {
    const fd = closedFd();
    expect(problemsOf(fd)).toEqual([
      `log.destination must be a file descriptor that is open, or a file path, got ${fd}`,
    ]);
  });

  it.each([1e15, 2 ** 31])('refuses %s, which is no descriptor, once', (fd) => {
    expect(problemsOf(fd)).toEqual([`log.destination must be a file descriptor or a file path, got ${fd}`]);
  });

  it('refuses a descriptor open on a directory', () => {
    const fd = openSync(dir, 'r');
    try {
      expect(problemsOf(fd)).toEqual([
        `log.destination must be a file descriptor open on a file, not a directory, got ${fd}`,
      ]);
    } finally {
      closeSync(fd);
    }
  });

  it('refuses a path that is a directory', () => {
    expect(problemsOf(dir)).toEqual([
      `log.destination must be a file path, not a directory, got ${JSON.stringify(dir)}`,
    ]);
  });

  it('takes an open descriptor, a file, and a path to be created with its directories', () => {
    const fd = openSync(join(dir, 'open.log'), 'a');
    try {
      expect(resolveLogOptions({ destination: fd }).destination).toBe(fd);
    } finally {
      closeSync(fd);
    }
    mkdirSync(join(dir, 'logs'));
    writeFileSync(join(dir, 'logs', 'existing.log'), '');
    for (const path of [join(dir, 'logs', 'existing.log'), join(dir, 'new', 'dirs', 'sluice.log')])
      expect(resolveLogOptions({ destination: path }).destination).toBe(path);
    expect(resolveLogOptions({}).destination).toBe(2);
  });
});
