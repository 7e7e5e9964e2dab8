/**
 * Before any suite: dist/ must be built from the sources as they are now. The suites run worker
 * threads, the CLI, the harness and the thread fixtures from dist/ (a worker loads a built `.js`
 * file), so after an edit to src/ a plain `npx vitest` would test the previous build, silently.
 * `npm test` builds first; this says so when the build is missing or older than a source.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** What tsconfig.build.json compiles into dist/, and the dashboard files the build copies there. */
const COMPILED = ['src', 'workers', 'bench', 'test/fixtures'];
const TYPESCRIPT = /\.(c|m)?ts$/;
/** The build step that bundles the `sluice` command, and the bundle's entry. */
const BUNDLER = join('src', 'cli', 'bundle-cli.ts');
const BUNDLE = join('dist', 'src', 'cli', 'sluice.js');

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

/** The file the build makes of `source` in `root`/dist/, or undefined for a source it does not emit. */
function builtFrom(root: string, source: string): string | undefined {
  const path = relative(root, source);
  if (path.endsWith('.d.ts')) return undefined;
  if (TYPESCRIPT.test(path)) {
    const js = path.replace(TYPESCRIPT, (_ts, kind: string | undefined) => `.${kind ?? ''}js`);
    return join(root, 'dist', js);
  }
  // The dashboard's page and browser modules, copied as they are (copy-dashboard.ts).
  if (path.startsWith(join('src', 'metrics', 'dashboard')) && /\.(html|js|css)$/.test(path))
    return join(root, 'dist', path);
  return undefined;
}

/** The sources under `root` whose build is missing or older than they are, one line each. */
export function staleBuilds(root = ROOT): string[] {
  const stale: string[] = [];
  for (const dir of COMPILED) {
    if (!existsSync(join(root, dir))) continue;
    for (const source of files(join(root, dir))) {
      const built = builtFrom(root, source);
      if (built === undefined) continue;
      if (!existsSync(built)) stale.push(`${relative(root, source)} has not been built`);
      else if (statSync(built).mtimeMs < statSync(source).mtimeMs)
        stale.push(`${relative(root, source)} changed after ${relative(root, built)} was built`);
    }
  }
  const bundle = staleBundle(root);
  if (bundle !== undefined) stale.push(bundle);
  return stale;
}

/**
 * The `sluice` command is bundled from dist/src/ after the compile (src/cli/bundle-cli.ts): it is
 * stale when any source under src/ changed after it was made — one line, naming the newest.
 */
function staleBundle(root: string): string | undefined {
  if (!existsSync(join(root, BUNDLER))) return undefined;
  const bundle = join(root, BUNDLE);
  if (!existsSync(bundle)) return `${BUNDLE} (the \`sluice\` command's bundle) has not been built`;
  const builtAt = statSync(bundle).mtimeMs;
  let newest: { path: string; at: number } | undefined;
  for (const source of files(join(root, 'src'))) {
    if (!TYPESCRIPT.test(source) || source.endsWith('.d.ts')) continue;
    const at = statSync(source).mtimeMs;
    if (at > builtAt && (newest === undefined || at > newest.at)) newest = { path: source, at };
  }
  return newest && `${relative(root, newest.path)} changed after ${BUNDLE} was built`;
}

export default function checkBuild(): void {
  const stale = staleBuilds();
  if (stale.length === 0) return;
  const shown = stale.slice(0, 5).map((line) => `  ${line}`);
  if (stale.length > shown.length) shown.push(`  … and ${stale.length - shown.length} more`);
  throw new Error(
    `dist/ is out of date: the tests run workers, the CLI and fixtures from dist/, so they would test the previous build.\n${shown.join('\n')}\nRun \`npm run build\` first (\`npm test\` builds, then runs vitest).`,
  );
}
