/**
 * The build's last step: the `sluice` command as one module graph, `dist/src/cli/sluice.js` (its
 * lazily loaded commands and sources in `sluice-*.js` chunks beside it). Node's ES module loader
 * pays per file — resolving, reading, compiling — and `sluice run` loaded about 200 of them (95 of
 * them zod's) before it read a line: 0.2 s of its start. Bundled, the same code starts in about
 * half that (docs/MEASUREMENTS.md).
 *
 * What stays outside, loaded from node_modules as before: every package but zod — the native ones
 * (better-sqlite3), those that start threads from their own files (piscina, pino's transports),
 * and the drivers the sinks load when a config names them. `sluice bench` stays outside too: its
 * harness starts workers and loads transforms from paths next to its own files.
 *
 * The chunks sit in dist/src/cli/, as deep as every other dist/src/<dir>/ module, so a path a
 * module resolves against its own import.meta.url (`../../workers/batch-worker.js`) names the same
 * file from the bundle as from the module's own file.
 *
 *   node dist/src/cli/bundle-cli.js
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const CLI_DIR = fileURLToPath(new URL('./', import.meta.url));
/** The bundle's entry, what `bin` names. */
const BUNDLE_ENTRY = 'sluice.js';
const CHUNK_PREFIX = 'sluice-';

/** Packages bundled in: pure JavaScript of many small modules, loaded on every start. */
const BUNDLED_PACKAGES = new Set(['zod']);
/** The bench command's modules: loaded from their own files (see above). */
const OWN_EXTERNAL = /(^|\/)(bench-command|bench-environment)\.js$/;

function packageOf(id: string): string {
  const [scope, name] = id.split('/');
  return scope!.startsWith('@') ? `${scope}/${name}` : scope!;
}

function external(id: string): boolean {
  if (id.startsWith('node:')) return true;
  if (id.startsWith('.') || id.startsWith('/')) return OWN_EXTERNAL.test(id);
  return !BUNDLED_PACKAGES.has(packageOf(id));
}

async function bundle(): Promise<void> {
  // Chunks of an earlier build carry other hashes: they go, so none is loaded by mistake.
  for (const name of readdirSync(CLI_DIR)) {
    const ours = name.startsWith(CHUNK_PREFIX) || name === BUNDLE_ENTRY || name === `${BUNDLE_ENTRY}.map`;
    if (ours && /\.js(\.map)?$/.test(name)) rmSync(join(CLI_DIR, name));
  }
  const build = await rolldown({
    input: join(CLI_DIR, 'main.js'),
    platform: 'node',
    external,
    // A warning is a build failure: an import the bundle could not place would fail at run time.
    onwarn(warning) {
      throw new Error(`bundling the CLI: ${warning.message}`);
    },
  });
  try {
    await build.write({
      dir: CLI_DIR,
      format: 'esm',
      entryFileNames: BUNDLE_ENTRY,
      chunkFileNames: `${CHUNK_PREFIX}[name]-[hash].js`,
      sourcemap: true,
    });
  } finally {
    await build.close();
  }
}

await bundle();
