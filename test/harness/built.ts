/**
 * The harness as built in dist/. Its systems start worker threads and load the ledger sink, the
 * producer and the scenario transforms from `.js` files next to themselves (located from
 * `import.meta.url`), which only exist in dist/, so suites that run the harness end to end import
 * it from there — typed as the source modules they are built from.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The built `sluice` command, as `bin` names it: the bundle (src/cli/bundle-cli.ts). */
export const CLI = fileURLToPath(new URL('../../dist/src/cli/sluice.js', import.meta.url));

async function built<T>(path: string): Promise<T> {
  const url = new URL(`../../dist/${path}`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`${fileURLToPath(url)} is missing: build first (npx tsc -p tsconfig.build.json)`);
  }
  return (await import(url.href)) as T;
}

export const builtRunBench = () =>
  built<typeof import('../../src/harness/run-bench.js')>('src/harness/run-bench.js');

export const builtScenarios = () =>
  built<typeof import('../../src/harness/scenarios/scenarios.js')>('src/harness/scenarios/scenarios.js');
