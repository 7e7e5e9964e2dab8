// Checks that Sluice's layers point one way. Every .ts file under src/ and workers/ belongs to a
// layer; an import (static, dynamic, type-only or export-from) may reach its own layer or a lower
// one, never a higher one, and the library (everything but src/harness and src/cli) never reaches
// into src/harness, src/cli or bench/. Run: node .ci/check-imports.mjs [repository root]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));

/**
 * Layers, bottom to top. A layer may import from itself and from any layer listed before it.
 * Layers in one inner list are peers: neither may import the other.
 */
const LAYERS = [
  ['base'],
  ['codec'],
  ['queue'],
  ['sinks'],
  ['delivery'],
  ['transforms', 'sources'],
  ['metrics'],
  ['config'],
  ['logging'],
  ['engine'],
  ['index'],
  ['harness'],
  ['bench'],
  ['cli'],
];

/** The library: what a user of the package loads. It must not reach the bench or the command. */
const OUTSIDE_LIBRARY = new Set(['harness', 'bench', 'cli']);

/**
 * Imports that break the rules today, each with the reason it is tolerated. An entry that no
 * longer matches anything is reported so it can be removed.
 */
const EXCEPTIONS = [
];

/** The layer of a file, by its path relative to the repository root. */
function layerOf(file) {
  // The package's entries re-export from every layer of the library: they sit above it.
  if (file === 'src/index.ts' || file === 'src/queue/index.ts') return 'index';
  // Files at the top of src/ (errors.ts, resolved-marker.ts, optional-package.ts) depend on nothing
  // of the library and serve every layer.
  if (/^src\/[^/]+\.ts$/.test(file)) return 'base';
  if (file === 'workers/batch-worker.ts') return 'engine';
  if (file.startsWith('workers/')) return 'harness';
  if (file.startsWith('bench/')) return 'bench';
  const match = /^src\/([^/]+)\//.exec(file);
  return match ? match[1] : undefined;
}

const rank = new Map();
LAYERS.forEach((peers, index) => {
  for (const layer of peers) rank.set(layer, index);
});

function listTs(dir) {
  const out = [];
  if (!existsSync(join(root, dir))) return out;
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listTs(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Comments removed, string contents kept: specifiers are string literals. */
function withoutComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\/|(^|[^:'"`\\])\/\/[^\n]*/g, (whole, before = '') =>
    whole.startsWith('/*') ? ' '.repeat(whole.length) : before,
  );
}

const SPECIFIER = [
  // import x from '…'; import type { x } from '…'; export { x } from '…'; export * from '…'
  /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
  // import '…' (side effects only)
  /\bimport\s*['"]([^'"]+)['"]/g,
  // import('…'), a dynamic import with a literal specifier
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

function specifiers(text) {
  const clean = withoutComments(text);
  const found = new Set();
  for (const pattern of SPECIFIER) {
    for (const match of clean.matchAll(pattern)) found.add(match[1]);
  }
  return [...found];
}

/** The repository-relative .ts file a relative specifier names, or undefined for a package. */
function target(from, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const path = relative(root, resolve(root, dirname(from), specifier));
  return path.replace(/\.js$/, '.ts');
}

const problems = [];
const used = new Set();
const layerEdges = new Map();
const files = [...listTs('src'), ...listTs('workers')];

for (const file of files) {
  const fromLayer = layerOf(file);
  if (fromLayer === undefined || !rank.has(fromLayer)) {
    problems.push(`${file}: in no layer; add its folder to LAYERS in .ci/check-imports.mjs`);
    continue;
  }
  for (const specifier of specifiers(readFileSync(join(root, file), 'utf8'))) {
    const to = target(file, specifier);
    if (to === undefined) continue;
    const toLayer = layerOf(to);
    if (toLayer === undefined || !rank.has(toLayer)) {
      problems.push(`${file}: imports ${specifier}, which is in no layer`);
      continue;
    }
    if (toLayer === fromLayer) continue;
    const exception = EXCEPTIONS.findIndex((e) => e.from === file && e.to === to);
    if (exception >= 0) {
      used.add(exception);
      continue;
    }
    if (!layerEdges.has(fromLayer)) layerEdges.set(fromLayer, new Map());
    layerEdges.get(fromLayer).set(toLayer, `${file} → ${to}`);
    if (!OUTSIDE_LIBRARY.has(fromLayer) && OUTSIDE_LIBRARY.has(toLayer)) {
      problems.push(`${file}: the library imports ${to} (${toLayer}), which is not part of it`);
    } else if (rank.get(toLayer) > rank.get(fromLayer)) {
      problems.push(`${file}: imports ${to}: ${fromLayer} → ${toLayer} points up`);
    } else if (rank.get(toLayer) === rank.get(fromLayer)) {
      problems.push(`${file}: imports ${to}: ${fromLayer} and ${toLayer} are peers`);
    }
  }
}

// Cycles between layers. With the order above every edge points down, so this finds none unless
// the order itself is changed in a way that lets one through; it names the files if it does.
const state = new Map();
function visit(layer, path) {
  state.set(layer, 'open');
  for (const [next, example] of layerEdges.get(layer) ?? []) {
    if (state.get(next) === 'open') {
      const start = path.findIndex((step) => step.layer === next);
      const loop = [...path.slice(start), { layer, example }];
      problems.push(`cycle between layers: ${loop.map((step) => `${step.layer} (${step.example})`).join(' → ')}`);
    } else if (!state.has(next)) {
      visit(next, [...path, { layer, example }]);
    }
  }
  state.set(layer, 'done');
}
for (const layer of layerEdges.keys()) if (!state.has(layer)) visit(layer, []);

EXCEPTIONS.forEach((e, index) => {
  if (!used.has(index)) console.warn(`check-imports: exception ${e.from} → ${e.to} no longer needed; remove it`);
});

if (problems.length > 0) {
  console.error(`check-imports: ${problems.length} import(s) against the layer order:`);
  for (const problem of problems) console.error(`  ${problem}`);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files, every import points down`);
