import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/engine/pipeline.js';
import { fixtureUrl } from '../helpers/engine.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The new-space size (MiB) a worker reports after growing its young generation as far as V8 lets it. */
async function workerNewSpaceMiB(maxYoungGenerationSizeMb?: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-limits-'));
  dirs.push(dir);
  const path = join(dir, 'out.ndjson');
  const pipeline = await createPipeline({
    workers: {
      min: 1,
      max: 1,
      ...(maxYoungGenerationSizeMb === undefined ? {} : { maxYoungGenerationSizeMb }),
    },
    transform: fixtureUrl('heap-transform'),
    sink: { type: 'ndjson', path, fsync: 'never' },
    deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
  });
  await pipeline.push({ id: 'probe', payload: {} });
  await pipeline.drained();
  await pipeline.close();
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  expect(lines).toHaveLength(1);
  const line = JSON.parse(lines[0]!) as { id: string; payload: { newSpaceMiB: number } };
  expect(line.id).toBe('probe');
  return line.payload.newSpaceMiB;
}

describe('workers.maxYoungGenerationSizeMb', () => {
  it('bounds every worker young generation (two semi-spaces of a third each), 24 MiB by default', async () => {
    // 24 MiB → 8 MiB semi-spaces → a 16 MiB new space at most.
    const byDefault = await workerNewSpaceMiB();
    expect(byDefault).toBeGreaterThan(0);
    expect(byDefault).toBeLessThanOrEqual(16);
    const small = await workerNewSpaceMiB(6);
    expect(small).toBeGreaterThan(0);
    expect(small).toBeLessThanOrEqual(4);
  });

  it("0 leaves V8's own default, which grows past the bounded size under the same allocation", async () => {
    expect(await workerNewSpaceMiB(0)).toBeGreaterThan(16);
  });
});
