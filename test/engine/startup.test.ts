import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/engine/pipeline.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-startup-'));
  dirs.push(dir);
  return dir;
}

describe('start-up', () => {
  it('createPipeline rejects when the sink cannot be opened, instead of deferring batches forever', async () => {
    const dir = tempDir();
    await expect(
      createPipeline({
        workers: { min: 1, max: 1 },
        // A directory cannot be opened as a database file.
        sink: { type: 'sqlite', path: dir },
        deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
      }),
    ).rejects.toThrow();
  });

  it('createPipeline rejects when the transform module does not exist', async () => {
    const dir = tempDir();
    await expect(
      createPipeline({
        workers: { min: 1, max: 1 },
        transform: new URL('file:///nonexistent/sluice-transform.js'),
        sink: { type: 'null' },
        deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
      }),
    ).rejects.toThrow(/sluice-transform/);
  });
});
