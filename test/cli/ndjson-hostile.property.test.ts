/**
 * `sluice run` over NDJSON files of hostile lines, generated from seeds, into the embedded default
 * (SQLite) and into PostgreSQL, no transform: every line that is not blank ends exactly once in the
 * sink or the dead letters, by id — its own, or the file's digest and its byte offset — with the
 * reason its kind calls for; a stored line keeps its text byte for byte (SQLite) or its value
 * exactly, numbers included (PostgreSQL's jsonb, compared by the server); a line's number `ts` is
 * the one JSON.parse reads.
 *
 * The lines: ids plain, escaped, integers beyond 2^53, null, absent, empty, an object; ts integer,
 * fraction, minus zero, 17 digits, beyond a double; payloads with NUL and lone-surrogate escapes,
 * raw bytes that are not UTF-8, emoji, big and tiny numbers, 20 000 nested arrays; truncated JSON;
 * CRLF endings and blank lines; the same line twice.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { prng } from '../../src/harness/prng.js';
import { CLI } from '../harness/built.js';
import {
  announcePostgres,
  dropTable,
  POSTGRES_URL,
  postgresSkip,
  requirePostgres,
  withClient,
} from '../helpers/postgres.js';

type Outcome = { kind: 'stored' } | { kind: 'dead'; reason: string };

interface Line {
  bytes: Buffer;
  /** The id the line's event has: its own, or undefined for the fallback. */
  id: string | undefined;
  /** What the embedded sink and PostgreSQL do with it. */
  sqlite: Outcome;
  postgres: Outcome;
  /** The ts JSON.parse reads, when it is a finite number. */
  ts: number | undefined;
}

const STORED: Outcome = { kind: 'stored' };
const dead = (reason: string): Outcome => ({ kind: 'dead', reason });

/** The lines of one file: `count` of them, kinds drawn from the seed. */
function hostileLines(seed: number, count: number): Line[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const lines: Line[] = [];
  const TS = ['1732800000123', '1732800000.5', '-0', '12345678901234567', '1e400', '"yesterday"', '0.1'];
  const ok = (text: string, id: string | undefined, ts?: string): Line => ({
    bytes: Buffer.from(text),
    id,
    sqlite: STORED,
    postgres: STORED,
    ts: ts === undefined ? undefined : finiteNumber(ts),
  });
  for (let i = 0; i < count; i++) {
    const ts = pick(TS);
    const tail = `"n":${i},"big":123456789012345678901234567890,"dec":19.990000000000000001,"tiny":1e-400`;
    switch (Math.floor(random() * 15)) {
      case 0:
        lines.push(ok(`{"id":"s${seed}-${i}","ts":${ts},${tail}}`, `s${seed}-${i}`, ts));
        break;
      case 1: // an escaped id: decoded as JSON.parse does
        lines.push(ok(`{"ts":${ts},"id":"e\\u0301\\"${seed}-${i}",${tail}}`, `e\u0301"${seed}-${i}`, ts));
        break;
      case 2: // an integer id beyond 2^53: its digits as written
        lines.push(ok(`{"id":98765432109876543210${i},"v":"x"}`, `98765432109876543210${i}`));
        break;
      case 3: // no id, or a null one: the fallback
        lines.push(ok(random() < 0.5 ? `{"ts":${ts},${tail}}` : `{"id":null,"ts":${ts}}`, undefined, ts));
        break;
      case 4: // multi-byte text, emoji, escapes the JSON reads back
        lines.push(ok(`{"id":"u${seed}-${i}","t":"ünï 😀 \\"q\\" \\\\ \\/ \\t"}`, `u${seed}-${i}`));
        break;
      case 5: // NUL, escaped: SQLite keeps the text; jsonb refuses \u0000
        lines.push({
          ...ok(`{"id":"z${seed}-${i}","t":"a\\u0000b"}`, `z${seed}-${i}`),
          postgres: dead('sink-rejected'),
        });
        break;
      case 6: // a lone surrogate, escaped: valid JSON text; jsonb refuses it
        lines.push({
          ...ok(`{"id":"l${seed}-${i}","t":"\\ud800x"}`, `l${seed}-${i}`),
          postgres: dead('sink-rejected'),
        });
        break;
      case 7: {
        // bytes that are not UTF-8 inside a string: the scanner takes them; PostgreSQL refuses them
        const line = Buffer.concat([
          Buffer.from(`{"id":"b${seed}-${i}","t":"`),
          Buffer.from([0xff, 0xc3]),
          Buffer.from('"}'),
        ]);
        lines.push({
          bytes: line,
          id: `b${seed}-${i}`,
          sqlite: STORED,
          postgres: dead('sink-rejected'),
          ts: undefined,
        });
        break;
      }
      case 8: // truncated
        lines.push({
          ...ok(`{"id":"t${seed}-${i}","v":[1,2`, undefined),
          sqlite: dead('invalid-json'),
          postgres: dead('invalid-json'),
        });
        break;
      case 9: // 20 000 nested arrays
        lines.push({
          ...ok(`{"id":"d${seed}-${i}","v":${'['.repeat(20_000)}${']'.repeat(20_000)}}`, undefined),
          sqlite: dead('too-deep'),
          postgres: dead('too-deep'),
        });
        break;
      case 10: // an id that names no event
        lines.push({
          ...ok(random() < 0.5 ? `{"id":"","v":1}` : `{"id":{"a":1},"v":1}`, undefined),
          sqlite: dead('invalid-event'),
          postgres: dead('invalid-event'),
        });
        break;
      case 11: // the same line twice: stored once
        for (let copy = 0; copy < 2; copy++)
          lines.push(ok(`{"id":"twice${seed}-${i}","ts":${ts}}`, `twice${seed}-${i}`, ts));
        break;
      case 12: // a CRLF ending: the CR is not part of the line
        lines.push({
          ...ok(`{"id":"r${seed}-${i}"}`, `r${seed}-${i}`),
          bytes: Buffer.from(`{"id":"r${seed}-${i}"}\r`),
        });
        break;
      case 13: {
        // Longer than the depth limit (1000): parsed without the scan when its brackets cannot
        // nest deeper, scanned when they are more than the limit, refused when it does nest deeper.
        const pad = 'x'.repeat(1200);
        const id = `g${seed}-${i}`;
        const long = (body: string) => `{"id":"${id}","pad":"${pad}",${body}}`;
        switch (Math.floor(random() * 4)) {
          case 0: // brackets in strings and a little structure, a big integer, a tiny exponent
            lines.push(ok(long(`"t":"[{[{ }]","v":[{"a":[1]}],${tail}`), id));
            break;
          case 1: // NUL, escaped: SQLite keeps the text; jsonb refuses \u0000
            lines.push({ ...ok(long('"t":"a\\u0000b"'), id), postgres: dead('sink-rejected') });
            break;
          case 2: // 1 101 brackets, two levels deep: more brackets than the limit, not deeper
            lines.push(ok(long(`"v":[${'[],'.repeat(1100)}[]]`), id));
            break;
          default: // 1 001 objects nested: deeper than the limit
            lines.push({
              ...ok(long(`"v":${'{"n":'.repeat(1001)}1${'}'.repeat(1001)}`), undefined),
              sqlite: dead('too-deep'),
              postgres: dead('too-deep'),
            });
        }
        break;
      }
      default: // a blank line: skipped, no event
        lines.push({
          bytes: Buffer.alloc(0),
          id: undefined,
          sqlite: STORED,
          postgres: STORED,
          ts: undefined,
        });
    }
  }
  return lines;
}

function finiteNumber(text: string): number | undefined {
  const value = JSON.parse(text) as unknown;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

interface Written {
  file: string;
  /** Each event line with the id its event has (the fallback worked out from its byte offset). */
  events: { line: Line; id: string; text: Buffer }[];
}

function writeFile(dir: string, lines: Line[]): Written {
  const file = join(dir, 'in.ndjson');
  const digest = createHash('sha256').update(resolve(file)).digest('hex').slice(0, 16);
  const events: Written['events'] = [];
  let offset = 0;
  for (const line of lines) {
    if (line.bytes.length > 0) {
      const text = line.bytes.at(-1) === 0x0d ? line.bytes.subarray(0, -1) : line.bytes;
      events.push({ line, id: line.id ?? `ndjson-${digest}:${offset}`, text });
    }
    offset += line.bytes.length + 1;
  }
  writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l.bytes, Buffer.from('\n')])));
  return { file, events };
}

function run(dir: string, sink: unknown, transform?: string): { written: number; deadLettered: number } {
  const config = join(dir, 'sluice.json');
  writeFileSync(
    config,
    JSON.stringify({
      source: { type: 'ndjson', path: 'in.ndjson' },
      ...(transform === undefined ? {} : { transform }),
      sink,
      deadLetter: { type: 'ndjson', path: 'dead.ndjson' },
      batch: { maxRecords: 97 },
    }),
  );
  const child = spawnSync(process.execPath, [CLI, 'run', '--config', config], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(child.status, child.stderr).toBe(0);
  const summary = /sluice run: (\d+) written, (\d+) dead-lettered/.exec(child.stdout);
  expect(summary, child.stdout).not.toBeNull();
  return { written: Number(summary![1]), deadLettered: Number(summary![2]) };
}

function deadLetters(dir: string): { id: string; reason: string }[] {
  return readFileSync(join(dir, 'dead.ndjson'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { payload: { reason: string; event: { id: string } } })
    .map((l) => ({ id: l.payload.event.id, reason: l.payload.reason }));
}

/** Outcomes by id, as the lines call for; an id stored twice is stored once. */
function expected(events: Written['events'], sink: 'sqlite' | 'postgres') {
  const stored = new Map<string, Written['events'][number]>();
  const letters: { id: string; reason: string }[] = [];
  let accepted = 0;
  for (const event of events) {
    const outcome = event.line[sink];
    accepted++;
    if (outcome.kind === 'stored') stored.set(event.id, event);
    else letters.push({ id: event.id, reason: outcome.reason });
  }
  return { stored, letters, accepted };
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-hostile-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

type SqliteRow = { id: string; ts: number | null; payload: string };

/**
 * `sluice run` over the seed's file into SQLite (through `transform`, a module in the run's
 * directory, when given): every line stored once or dead-lettered with its reason, by id; each
 * stored row's ts the line's; `checkPayload` holds each stored row's payload to its line.
 */
function intoSqlite(
  seed: number,
  transform: string | undefined,
  checkPayload: (row: SqliteRow, event: Written['events'][number]) => void,
): void {
  const { events } = writeFile(dir, hostileLines(seed, 600));
  const { stored, letters, accepted } = expected(events, 'sqlite');
  const summary = run(dir, { type: 'sqlite', path: 'out.db' }, transform);
  expect(summary.written + summary.deadLettered).toBe(accepted);
  expect(deadLetters(dir).sort(byId)).toEqual(letters.sort(byId));
  const db = new Database(join(dir, 'out.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT id, ts, payload FROM events').all() as SqliteRow[];
    expect(rows.map((r) => r.id).sort()).toEqual([...stored.keys()].sort());
    for (const row of rows) {
      const event = stored.get(row.id)!;
      checkPayload(row, event);
      // SQLite's REAL reads minus zero back as zero.
      expect(row.ts ?? undefined, row.id).toBe(event.line.ts === undefined ? undefined : event.line.ts || 0);
    }
  } finally {
    db.close();
  }
}

describe('sluice run over hostile NDJSON files', () => {
  for (const seed of [1, 2, 3]) {
    it(`into SQLite, seed ${seed}: every line stored once as its bytes, or dead-lettered with its reason`, () => {
      intoSqlite(seed, undefined, (row, event) => {
        // Bytes that are not UTF-8 are read as U+FFFD, as any text sink reads them.
        expect(row.payload, row.id).toBe(event.text.toString('utf8'));
      });
    });
  }
});

/**
 * A transform that reads every payload: each line is parsed whole in the worker, checked by the
 * parse rather than the scan, and its fields read off the parsed object (decodeParsed).
 */
const MARKING_TRANSFORM = `export default function mark(event) {
  event.payload.marked = event.id;
  return event;
}
`;

describe('sluice run over hostile NDJSON files through a transform', () => {
  for (const seed of [6, 7]) {
    it(`into SQLite, seed ${seed}: the same outcomes by id as without one, each stored payload the line's value and the mark`, () => {
      writeFileSync(join(dir, 'mark.mjs'), MARKING_TRANSFORM);
      intoSqlite(seed, './mark.mjs', (row, event) => {
        const line = JSON.parse(event.text.toString('utf8')) as Record<string, unknown>;
        // What JSON.stringify writes of the marked object: 1e400 as null, minus zero as 0.
        const marked = JSON.parse(JSON.stringify({ ...line, marked: row.id })) as unknown;
        expect(JSON.parse(row.payload), row.id).toStrictEqual(marked);
      });
    });
  }
});

describe.skipIf(postgresSkip)('sluice run over hostile NDJSON files into PostgreSQL', () => {
  announcePostgres('ndjson-hostile (PostgreSQL)');
  beforeAll(requirePostgres);
  const table = `hostile_${process.pid}`;
  afterEach(() => dropTable(table));

  for (const seed of [4, 5]) {
    it(`seed ${seed}: every line stored once with its value exactly, or dead-lettered with its reason`, async () => {
      await dropTable(table);
      const { events } = writeFile(dir, hostileLines(seed, 500));
      const { stored, letters, accepted } = expected(events, 'postgres');
      const summary = run(dir, { type: 'postgres', connectionString: POSTGRES_URL, table });
      expect(summary.written + summary.deadLettered).toBe(accepted);
      expect(deadLetters(dir).sort(byId)).toEqual(letters.sort(byId));
      const ids = [...stored.keys()];
      const texts = ids.map((id) => stored.get(id)!.text.toString('utf8'));
      const { rows } = await withClient((client) =>
        client.query<{ id: string; same: boolean; ts: number | null }>(
          `SELECT e.id, t.payload = e.line::jsonb AS same, t.ts
             FROM unnest($1::text[], $2::text[]) AS e(id, line) LEFT JOIN "${table}" t ON t.id = e.id`,
          [ids, texts],
        ),
      );
      const count = await withClient((client) =>
        client.query<{ n: string }>(`SELECT count(*) AS n FROM "${table}"`),
      );
      expect(Number(count.rows[0]!.n)).toBe(ids.length);
      expect(rows.filter((r) => r.same !== true).map((r) => r.id)).toEqual([]);
      for (const row of rows) {
        const ts = stored.get(row.id)!.line.ts;
        // float8 keeps minus zero.
        expect(row.ts === null ? undefined : Number(row.ts), row.id).toBe(ts);
      }
    });
  }
});
