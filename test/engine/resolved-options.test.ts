/**
 * Options are resolved once, on the main thread, before any thread starts: createPipeline keeps a
 * resolved options object as it is, and the workers build their sinks from the resolved specs
 * they receive, defaults already filled in.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { resolvePipelineOptions } from '../../src/config/pipeline-options.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import { createSink } from '../../src/sinks/create-sink.js';
import { ids } from '../helpers/engine.js';
import { complianceBatch } from '../helpers/sink-compliance.js';

const dirs: string[] = [];
const pipelines: Pipeline[] = [];
afterEach(async () => {
  await Promise.allSettled(pipelines.splice(0).map((p) => p.close({ timeoutMs: 5000 })));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-resolved-'));
  dirs.push(dir);
  return dir;
}

/** The packages a built module reaches through its static imports, followed through relative ones. */
function packagesReachedFrom(file: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const text = readFileSync(path, 'utf8');
    for (const [, specifier] of text.matchAll(/^\s*(?:import|export)\b[^'";]*?['"]([^'"]+)['"]/gm)) {
      if (specifier!.startsWith('.')) visit(resolve(dirname(path), specifier!));
      else packages.add(specifier!);
    }
  };
  visit(file);
  return packages;
}

function idsIn(path: string, table: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`SELECT id FROM "${table}" ORDER BY id`).all() as { id: string }[]).map((r) => r.id);
  } finally {
    db.close();
  }
}

describe('resolved options', () => {
  it('createPipeline keeps resolved options as they are, and the workers write where they say', async () => {
    const dir = tempDir();
    const db = join(dir, 'out.db');
    const resolved = resolvePipelineOptions({
      workers: { min: 1, max: 1 },
      sink: { type: 'sqlite', path: db, table: 'resolved_events', synchronous: 'full' },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson'), fsync: 'never' },
    });
    const pipeline = await createPipeline(resolved);
    pipelines.push(pipeline);
    expect(pipeline.options).toBe(resolved);
    const events = ids('resolved', 25);
    await pipeline.pushMany(events.map((id) => ({ id, payload: { id } })));
    await pipeline.drained();
    expect(idsIn(db, 'resolved_events')).toEqual([...events].sort());
  });

  it('createSink builds each file sink from its resolved spec, using the resolved values', async () => {
    const dir = tempDir();
    const context = { threadId: 0, role: 'sink', ordering: 'none' } as const;
    const batch = complianceBatch(3, 'resolved');

    const sqlite = resolveSinkSpec({ type: 'sqlite', path: join(dir, 'x.db'), table: 'chosen_table' });
    expect(sqlite).toEqual({
      type: 'sqlite',
      path: join(dir, 'x.db'),
      table: 'chosen_table',
      synchronous: 'normal',
      busyTimeoutMs: 10_000,
    });
    const sqliteSink = await createSink(sqlite, context);
    await sqliteSink.open();
    await sqliteSink.write(batch);
    await sqliteSink.close();
    expect(idsIn(join(dir, 'x.db'), 'chosen_table')).toEqual(batch.map((r) => r.id).sort());

    const ndjson = resolveSinkSpec({ type: 'ndjson', path: join(dir, 'out.ndjson') }, 'deadLetter');
    expect(ndjson).toEqual({ type: 'ndjson', path: join(dir, 'out.ndjson'), fsync: 'batch' });
    const ndjsonSink = await createSink(ndjson, { ...context, role: 'deadLetter' });
    await ndjsonSink.open();
    await ndjsonSink.write(batch);
    await ndjsonSink.close();
    const lines = readFileSync(join(dir, 'out.ndjson'), 'utf8').trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(batch.map((r) => r.id));
  });

  it('worker threads receive them and never load the schemas that resolved them', () => {
    const worker = fileURLToPath(new URL('../../dist/workers/batch-worker.js', import.meta.url));
    const reached = packagesReachedFrom(worker);
    // The walk sees the worker's own imports, so an empty or broken walk cannot pass.
    expect(reached).toContain('pino');
    expect(reached).not.toContain('zod');
  });
});
