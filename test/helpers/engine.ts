/**
 * What the engine scenario suites share: fixture URLs, temp dirs, pipelines closed after every
 * test, reading back the fixture sink's table and the dead-letter file, and waiting on the control
 * words the fixture sinks update (Atomics, never timers).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach } from 'vitest';
import type { PipelineOptions } from '../../src/config/pipeline-options.js';
import type { DeadLetter } from '../../src/delivery/dead-letter.js';
import { createPipeline, openPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import type { PrestartedPool } from '../../src/engine/worker-pool.js';
import { GATE, GATE_OPEN } from '../fixtures/engine/control.js';
import { createRecordingTable } from '../fixtures/engine/recording-table.js';
import type { TestSinkOptions } from '../fixtures/engine/test-sink.js';

/** The built (dist/) URL of a fixture module in test/fixtures/engine/. */
export function fixtureUrl(name: string): URL {
  return new URL(`../../dist/test/fixtures/engine/${name}.js`, import.meta.url);
}

/** A name no other run uses (tables, files). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
}

export interface Scene {
  dir: string;
  dbPath: string;
  table: string;
  deadLetterPath: string;
  /**
   * Creates a pipeline that is closed (and its temp dir removed) after the test; with
   * `prestarted`, offered that pool (openPipeline), as `sluice run` offers its own.
   */
  pipeline(options: PipelineOptions, prestarted?: PrestartedPool): Promise<Pipeline>;
  /** Sink options of the fixture test sink writing to this scene's table. */
  sinkOptions(extra?: Partial<TestSinkOptions>): TestSinkOptions;
  /** Everything the fixture sink stored, in insertion order. */
  rows(): SinkRow[];
  /** Every dead letter written so far. */
  deadLetters(): DeadLetterLine[];
}

export interface SinkRow {
  seq: number;
  id: string;
  key: string | null;
  payload: unknown;
  thread: number;
}

export interface DeadLetterLine {
  id: string;
  letter: DeadLetter;
}

/**
 * Registers a hook that closes every pipeline a test created (bounded, so a test that left a sink
 * gated cannot hang the suite) and removes its temp dir: after each test, or — `scope: 'all'`, for
 * a suite whose tests share one pipeline — after the last test of the enclosing describe.
 */
export function useScenes(scope: 'each' | 'all' = 'each'): () => Scene {
  const open: { pipelines: Pipeline[]; dir: string }[] = [];
  (scope === 'each' ? afterEach : afterAll)(async () => {
    for (const scene of open.splice(0)) {
      await Promise.allSettled(scene.pipelines.map((p) => p.close({ timeoutMs: 5000 })));
      rmSync(scene.dir, { recursive: true, force: true });
    }
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-engine-'));
    const entry = { pipelines: [] as Pipeline[], dir };
    open.push(entry);
    const dbPath = join(dir, 'sink.db');
    const table = uniqueName('events');
    const deadLetterPath = join(dir, 'dead-letters.ndjson');
    return {
      dir,
      dbPath,
      table,
      deadLetterPath,
      async pipeline(options, prestarted) {
        let pipeline: Pipeline;
        if (prestarted === undefined) pipeline = await createPipeline(options);
        else {
          const opened = await openPipeline(options, prestarted);
          await opened.started;
          pipeline = opened.pipeline;
        }
        entry.pipelines.push(pipeline);
        return pipeline;
      },
      sinkOptions(extra = {}) {
        const unique = extra.unique ?? true;
        // Created here, before any worker opens it, so workers never race to set up the schema.
        const db = new Database(dbPath);
        createRecordingTable(db, table, unique);
        db.close();
        return { path: dbPath, table, unique, ...extra };
      },
      rows: () => readRows(dbPath, table),
      deadLetters: () => readDeadLetters(deadLetterPath),
    };
  };
}

/** Reads the fixture sink's table through a fresh connection. */
export function readRows(dbPath: string, table: string): SinkRow[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = db.prepare(`SELECT seq, id, key, payload, thread FROM "${table}" ORDER BY seq`).all() as {
      seq: number;
      id: string;
      key: string | null;
      payload: string;
      thread: number;
    }[];
    return rows.map((row) => ({ ...row, payload: JSON.parse(row.payload) as unknown }));
  } finally {
    db.close();
  }
}

/** Reads an NDJSON dead-letter file (none yet: no letters). */
export function readDeadLetters(path: string): DeadLetterLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const record = JSON.parse(line) as { id: string; payload: DeadLetter };
      return { id: record.id, letter: record.payload };
    });
}

/** Distinct values, sorted: for comparing id sets. */
export function distinctSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

export function ids(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`);
}

/**
 * Resolves once `words[index]` satisfies `predicate`, waiting with Atomics.waitAsync on the
 * word (the fixture notifies every change). Rejects naming `what` after `timeoutMs`.
 */
export async function waitForWord(
  words: Int32Array,
  index: number,
  predicate: (value: number) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = Atomics.load(words, index);
    if (predicate(value)) return value;
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what} (word ${index} is ${value})`);
    const wait = Atomics.waitAsync(words, index, value, left);
    if (wait.async) await wait.value;
  }
}

/** Opens a fixture sink's gate: every waiting and future write passes. */
export function openGate(words: Int32Array): void {
  Atomics.store(words, GATE, GATE_OPEN);
  Atomics.notify(words, GATE);
}

/** Lets the event loop run `turns` full turns (timers, I/O and immediates) without any fixed delay. */
export async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Watches a promise so a test can ask, at any later point, whether it has settled yet. */
export function watch(promise: Promise<unknown>): { readonly settled: boolean } {
  const state = { settled: false };
  promise.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

/**
 * Polls `check` every `everyMs` until it holds; rejects naming `what` after `timeoutMs`. A bound on
 * waiting for something outside the test's reach (a broker, a server, a readiness flag), not a
 * measurement.
 */
export async function pollUntil(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
  everyMs = 20,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
