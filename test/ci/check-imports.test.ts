/**
 * .ci/check-imports.mjs, the layer check `npm run lint` runs: it passes on this repository, and
 * fails, naming the file and the rule, on a tree that breaks each rule.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(repo, '.ci', 'check-imports.mjs');

function check(root?: string): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, root === undefined ? [script] : [script, root], {
    encoding: 'utf8',
  });
  return { status: run.status, output: run.stdout + run.stderr };
}

const trees: string[] = [];

/** A repository root holding `files` (path → text). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'sluice-layers-'));
  trees.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterEach(() => {
  for (const root of trees.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('the import check', () => {
  it('passes on this repository', () => {
    const { status, output } = check();
    expect(output).toContain('every import points down');
    expect(status).toBe(0);
  });

  it('passes a tree whose imports all point down, whatever their form', () => {
    const root = tree({
      'src/errors.ts': 'export class E {}\n',
      'src/queue/ring.ts': "import { E } from '../errors.js';\nexport { E };\n",
      'src/engine/pipeline.ts': [
        "import type { E } from '../errors.js';",
        "export * from '../queue/ring.js';",
        "export const later = () => import('../queue/ring.js');",
        '',
      ].join('\n'),
    });
    expect(check(root).status).toBe(0);
  });

  it('fails on an import that points up, naming the file and the layers', () => {
    const root = tree({
      'src/engine/pipeline.ts': 'export const x = 1;\n',
      'src/queue/ring.ts': "import {\n  x,\n} from '../engine/pipeline.js';\nexport const y = x;\n",
    });
    const { status, output } = check(root);
    expect(status).toBe(1);
    expect(output).toContain('src/queue/ring.ts: imports src/engine/pipeline.ts: queue → engine points up');
  });

  it('fails on a type-only or dynamic import that points up, and ignores one in a comment', () => {
    const root = tree({
      'src/engine/pipeline.ts': 'export type X = 1;\n',
      'src/codec/a.ts': "import type { X } from '../engine/pipeline.js';\nexport type Y = X;\n",
      'src/codec/b.ts': "export const z = () => import('../engine/pipeline.js');\n",
      'src/codec/c.ts':
        "// import { X } from '../engine/pipeline.js';\n/* import('../engine/pipeline.js') */\n",
    });
    const { status, output } = check(root);
    expect(status).toBe(1);
    expect(output).toContain('src/codec/a.ts: imports src/engine/pipeline.ts');
    expect(output).toContain('src/codec/b.ts: imports src/engine/pipeline.ts');
    expect(output).not.toContain('src/codec/c.ts');
  });

  it('names a cycle between layers', () => {
    const root = tree({
      'src/engine/pipeline.ts': "import { r } from '../queue/ring.js';\nexport const x = r;\n",
      'src/queue/ring.ts': "import type { x } from '../engine/pipeline.js';\nexport const r = 1;\n",
    });
    const { status, output } = check(root);
    expect(status).toBe(1);
    expect(output).toContain('cycle between layers');
    expect(output).toContain('src/queue/ring.ts → src/engine/pipeline.ts');
    expect(output).toContain('src/engine/pipeline.ts → src/queue/ring.ts');
  });

  it('fails on an import between peers', () => {
    const root = tree({
      'src/sources/source.ts': 'export const s = 1;\n',
      'src/transforms/transform.ts': "import { s } from '../sources/source.js';\nexport const t = s;\n",
    });
    const { status, output } = check(root);
    expect(status).toBe(1);
    expect(output).toContain('transforms and sources are peers');
  });

  it('fails when the library imports the harness, the command or bench/', () => {
    const root = tree({
      'src/harness/prng.ts': 'export const p = 1;\n',
      'src/cli/main.ts': 'export const m = 1;\n',
      'bench/load/scenarios.ts': 'export const s = 1;\n',
      'src/engine/a.ts': "import { p } from '../harness/prng.js';\nexport const a = p;\n",
      'src/metrics/b.ts': "import { m } from '../cli/main.js';\nexport const b = m;\n",
      'workers/batch-worker.ts': "import { s } from '../bench/load/scenarios.js';\nexport const c = s;\n",
    });
    const { status, output } = check(root);
    expect(status).toBe(1);
    expect(output).toContain('src/engine/a.ts: the library imports src/harness/prng.ts (harness)');
    expect(output).toContain('src/metrics/b.ts: the library imports src/cli/main.ts (cli)');
    expect(output).toContain('workers/batch-worker.ts: the library imports bench/load/scenarios.ts (bench)');
  });

  it('fails on a folder that belongs to no layer', () => {
    const root = tree({ 'src/widgets/w.ts': 'export const w = 1;\n' });
    const { status, output } = check(root);
    expect(status).toBe(1);
    expect(output).toContain('src/widgets/w.ts: in no layer');
  });
});
