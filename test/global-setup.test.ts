import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { staleBuilds } from './global-setup.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Writes `path` under the temporary root, last modified `secondsAgo` ago. */
function file(path: string, secondsAgo: number): void {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, '');
  const at = Date.now() / 1000 - secondsAgo;
  utimesSync(full, at, at);
}

describe('the build check run before the suites', () => {
  it('finds nothing when every source was built after its last change', () => {
    root = mkdtempSync(join(tmpdir(), 'sluice-build-check-'));
    file('src/cli/main.ts', 60);
    file('dist/src/cli/main.js', 10);
    file('workers/batch-worker.ts', 60);
    file('dist/workers/batch-worker.js', 10);
    file('bench/postgres-load/thread-tag.cts', 60);
    file('dist/bench/postgres-load/thread-tag.cjs', 10);
    file('src/metrics/dashboard/index.html', 60);
    file('dist/src/metrics/dashboard/index.html', 10);
    file('src/types.d.ts', 5);
    expect(staleBuilds(root)).toEqual([]);
  });

  it('names a source changed after its build, and one never built', () => {
    root = mkdtempSync(join(tmpdir(), 'sluice-build-check-'));
    file('src/cli/main.ts', 5);
    file('dist/src/cli/main.js', 60);
    file('test/fixtures/engine/test-sink.ts', 5);
    file('src/metrics/dashboard/dashboard.js', 5);
    file('dist/src/metrics/dashboard/dashboard.js', 60);
    expect(staleBuilds(root).sort()).toEqual([
      'src/cli/main.ts changed after dist/src/cli/main.js was built',
      'src/metrics/dashboard/dashboard.js changed after dist/src/metrics/dashboard/dashboard.js was built',
      'test/fixtures/engine/test-sink.ts has not been built',
    ]);
  });

  it("names the `sluice` command's bundle when a source changed after it was made, or it is missing", () => {
    root = mkdtempSync(join(tmpdir(), 'sluice-build-check-'));
    file('src/cli/bundle-cli.ts', 60);
    file('dist/src/cli/bundle-cli.js', 50);
    file('src/engine/pipeline.ts', 60);
    file('dist/src/engine/pipeline.js', 50);
    expect(staleBuilds(root)).toEqual([
      "dist/src/cli/sluice.js (the `sluice` command's bundle) has not been built",
    ]);
    file('dist/src/cli/sluice.js', 40);
    expect(staleBuilds(root)).toEqual([]);
    // Compiled again after a change, not bundled: the bundle still holds the old code.
    file('src/engine/pipeline.ts', 30);
    file('src/queue/ring.ts', 20);
    file('dist/src/engine/pipeline.js', 10);
    file('dist/src/queue/ring.js', 10);
    expect(staleBuilds(root)).toEqual(['src/queue/ring.ts changed after dist/src/cli/sluice.js was built']);
  });
});
