/**
 * An event whose payload no transform changed reaches every sink as it was sent: big integers,
 * long decimals and tiny exponents exact — byte for byte in SQLite and NDJSON, numerically exact in
 * PostgreSQL's jsonb (which stores numbers as numeric and keeps its own text form) — whichever
 * source read it: an NDJSON file, an HTTP body (NDJSON or a JSON array), NATS JetStream, Redis
 * Streams.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SinkSpec } from '../../src/sinks/sink-spec.js';
import { HttpSource } from '../../src/sources/http-source.js';
import { NatsJetStreamSource } from '../../src/sources/nats-jetstream-source.js';
import { NdjsonSource } from '../../src/sources/ndjson-source.js';
import { RedisStreamsSource } from '../../src/sources/redis-streams-source.js';
import type { Source } from '../../src/sources/source.js';
import { uniqueName as brokerName, nats, redis } from '../helpers/brokers.js';
import { fixtureUrl, type Scene, uniqueName, useScenes } from '../helpers/engine.js';
import { announcePostgres, dropTable, POSTGRES_URL, postgresSkip, withClient } from '../helpers/postgres.js';

const scene = useScenes();

/** The payloads, as sent: each number is one JSON.parse would change. */
const LINES = [
  '{"id":"x-big","big":12345678901234567890,"neg":-98765432109876543210}',
  '{"id":"x-dec","price":19.990000000000000001,"pi":3.14159265358979323846264338327950288}',
  '{"id":"x-tiny","tiny":1e-400,"huge":1e400,"exp":6.02214076E+23}',
  '{"id":"x-spaced", "nested" : { "n" : [ 1.0 , 2.50 , -0.0 ] } }',
];
const IDS = ['x-big', 'x-dec', 'x-tiny', 'x-spaced'];

/** `module-text`: the test sink module (SQLite underneath), declared `writesText`. */
type SinkKind = 'sqlite' | 'ndjson' | 'postgres' | 'module-text';

interface Target {
  kind: SinkKind;
  spec: SinkSpec;
  /** The stored payload text by id. */
  stored(): Promise<Map<string, string>>;
}

/** The payload text stored in a SQLite table, by id, read through a fresh connection. */
function sqlitePayloads(path: string, table: string): Map<string, string> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare(`SELECT id, payload FROM "${table}"`).all() as { id: string; payload: string }[];
    return new Map(rows.map((r) => [r.id, r.payload]));
  } finally {
    db.close();
  }
}

function target(s: Scene, kind: SinkKind): Target {
  if (kind === 'module-text') {
    const options = s.sinkOptions();
    return {
      kind,
      spec: { module: fixtureUrl('test-sink'), options, writesText: true },
      stored: async () => sqlitePayloads(options.path, options.table),
    };
  }
  if (kind === 'sqlite') {
    return {
      kind,
      spec: { type: 'sqlite', path: s.dbPath },
      stored: async () => sqlitePayloads(s.dbPath, 'events'),
    };
  }
  if (kind === 'ndjson') {
    const path = join(s.dir, 'out.ndjson');
    return {
      kind,
      spec: { type: 'ndjson', path },
      // The sink writes {"id":…,…,"payload":<the payload's text>} per line.
      stored: async () =>
        new Map(
          readFileSync(path, 'utf8')
            .trim()
            .split('\n')
            .map((line) => {
              const at = line.indexOf('"payload":') + '"payload":'.length;
              return [(JSON.parse(line) as { id: string }).id, line.slice(at, -1)] as const;
            }),
        ),
    };
  }
  const table = uniqueName('exact');
  tables.push(table);
  return {
    kind,
    spec: { type: 'postgres', connectionString: POSTGRES_URL, table },
    stored: () =>
      withClient(async (client) => {
        const { rows } = await client.query<{ id: string; payload: string }>(
          `SELECT id, payload::text AS payload FROM "${table}"`,
        );
        return new Map(rows.map((r) => [r.id, r.payload]));
      }),
  };
}

const tables: string[] = [];
afterAll(async () => {
  if (!postgresSkip) for (const table of tables) await dropTable(table);
});

/** The payload as stored must equal the line: byte for byte, or numerically for jsonb. */
async function expectExact(kind: SinkKind, stored: Map<string, string>, lines = LINES): Promise<void> {
  expect([...stored.keys()].sort()).toEqual([...IDS].sort());
  for (const line of lines) {
    const id = (JSON.parse(line) as { id: string }).id;
    const text = stored.get(id)!;
    if (kind !== 'postgres') {
      expect(text).toBe(line);
      continue;
    }
    // jsonb: the same document, every number compared as PostgreSQL's exact numeric.
    const same = await withClient(async (client) => {
      const { rows } = await client.query<{ same: boolean }>('SELECT $1::jsonb = $2::jsonb AS same', [
        text,
        line,
      ]);
      return rows[0]!.same;
    });
    expect([id, same]).toEqual([id, true]);
  }
  if (kind === 'postgres') {
    const big = await withClient(async (client) => {
      const { rows } = await client.query<{ big: string; tiny: string }>(
        `SELECT $1::jsonb->>'big' AS big, ($2::jsonb->'tiny')::numeric = 1e-400 AS tiny`,
        [stored.get('x-big'), stored.get('x-tiny')],
      );
      return rows[0]!;
    });
    expect(big).toEqual({ big: '12345678901234567890', tiny: true });
  }
}

/** Runs a source to its end (or until every event is stored) into a pipeline writing to `sink`. */
async function runSource(
  s: Scene,
  sink: SinkSpec,
  makeSource: () => Source,
  feed?: (source: Source) => Promise<void>,
  transform?: URL,
): Promise<void> {
  const pipeline = await s.pipeline({
    workers: { min: 1, max: 1 },
    ...(transform ? { transform } : {}),
    sink,
    deadLetter: { type: 'ndjson', path: s.deadLetterPath },
  });
  const source = makeSource();
  const controller = new AbortController();
  const running = source.start(pipeline, controller.signal);
  if (feed) await feed(source);
  else await running;
  const deadline = Date.now() + 20_000;
  while (pipeline.stats().written < LINES.length) {
    if (Date.now() > deadline) throw new Error(`only ${pipeline.stats().written} of ${LINES.length} written`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  controller.abort();
  await running;
  await source.stop();
  await pipeline.close();
  await source.finish?.();
  expect(s.deadLetters()).toEqual([]);
}

announcePostgres('exact payloads');
const SINKS: SinkKind[] = postgresSkip ? ['sqlite', 'ndjson'] : ['sqlite', 'ndjson', 'postgres'];

/** LINES from an NDJSON file into `kind` through `transform`; each stored as `expected` says. */
async function fromNdjsonFile(kind: SinkKind, transform: URL | undefined, expected: string[]): Promise<void> {
  const s = scene();
  const t = target(s, kind);
  const file = join(s.dir, 'in.ndjson');
  writeFileSync(file, `${LINES.join('\n')}\n`);
  await runSource(s, t.spec, () => new NdjsonSource({ path: file }), undefined, transform);
  await expectExact(kind, await t.stored(), expected);
}

describe('payloads no transform touched reach the sink exactly', () => {
  it.each(SINKS)('from an NDJSON file into %s', (kind) => fromNdjsonFile(kind, undefined, LINES));

  it.each(SINKS)('from an HTTP body, NDJSON and a JSON array, into %s', async (kind) => {
    for (const shape of ['ndjson', 'array'] as const) {
      const s = scene();
      const t = target(s, kind);
      await runSource(
        s,
        t.spec,
        () => new HttpSource({ port: 0 }),
        async (source) => {
          const url = await (source as HttpSource).listening();
          const response = await fetch(`${url}/ingest`, {
            method: 'POST',
            headers: { 'content-type': shape === 'ndjson' ? 'application/x-ndjson' : 'application/json' },
            body: shape === 'ndjson' ? LINES.join('\n') : `[${LINES.join(',\n ')}]`,
          });
          expect(response.status).toBe(200);
        },
      );
      await expectExact(kind, await t.stored());
    }
  });
});

/** `line` with `"seenBy":"sluice"` added before its closing brace, as a lazy payload writes it. */
function enriched(line: string): string {
  const close = line.lastIndexOf('}');
  return `${line.slice(0, close)},"seenBy":"sluice"${line.slice(close)}`;
}

describe('payloads a lazy transform only enriched or read scalars of', () => {
  it.each(SINKS)('from an NDJSON file into %s, the added member spliced in', (kind) =>
    fromNdjsonFile(kind, fixtureUrl('lazy-enrich-transform'), LINES.map(enriched)),
  );
});

/**
 * Hostile but valid lines, each a payload no transform touches: escaped NUL and lone surrogates,
 * multi-byte text (4-byte characters too), integers beyond 2^53, 1e-400, 900 nested arrays (the default limit is 1000 levels),
 * whitespace after the closing brace. Seeded, so a failure names its line.
 */
function hostileLine(seq: number): string {
  const id = `h-${seq}`;
  switch (seq % 7) {
    case 0:
      return `{"id":"${id}","nul":"a\\u0000b","lone":"\\ud800x\\udfff"}`;
    case 1:
      return `{"id":"${id}","big":${2n ** 64n + BigInt(seq)},"neg":-${2n ** 53n + 1n}}`;
    case 2:
      return `{"id":"${id}","tiny":1e-400,"dec":0.${'1'.repeat(40)}${seq}}`;
    case 3:
      return `{"id":"${id}","deep":${'['.repeat(900)}${seq}${']'.repeat(900)}}`;
    case 4:
      return `{"id":"${id}","text":"${'ñ€😀'.repeat(1 + (seq % 97))}"}`;
    case 5:
      // Whitespace after the closing brace: a member is spliced in before the brace, not at the end.
      return `{"id":"${id}","tail":${seq}}${' \t\r'.repeat(1 + (seq % 3))}`;
    default:
      return `{"id":"${id}", "pad" : "${'x'.repeat(seq % 3000)}" }`;
  }
}

/**
 * 3000 hostile lines and one 20 000 deep through a 256 KiB ring: a few hundred lines fill it (the
 * deep one within its quarter), so batches go round its end a dozen times. Every line must be
 * stored once as `expected(line)`; the deep one dead-lettered whole as too-deep.
 */
async function throughSmallRing(
  kind: 'sqlite' | 'ndjson' | 'module-text',
  transform: URL | undefined,
  expected: (line: string) => string,
) {
  const s = scene();
  const t = target(s, kind);
  const pipeline = await s.pipeline({
    workers: { min: 2, max: 2 },
    queue: { capacityBytes: 256 * 1024 },
    ...(transform ? { transform } : {}),
    sink: t.spec,
    deadLetter: { type: 'ndjson', path: s.deadLetterPath },
  });
  const lines = Array.from({ length: 3000 }, (_, seq) => hostileLine(seq));
  const deep = `{"id":"h-deep","deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
  const all = [...lines.slice(0, 1500), deep, ...lines.slice(1500)];
  // Pushed in slices, as a source does; each push waits while the ring is full.
  for (let at = 0; at < all.length; at += 50) await pipeline.pushRawMany(all.slice(at, at + 50));
  await pipeline.drained();
  await pipeline.close();
  const stored = await t.stored();
  expect(stored.size).toBe(lines.length);
  for (const line of lines) {
    const id = (JSON.parse(line) as { id: string }).id;
    expect([id, stored.get(id)]).toEqual([id, expected(line)]);
  }
  // Its id is the one assigned at push: a line refused unread has its own id unread too.
  const letters = s.deadLetters();
  expect(letters).toHaveLength(1);
  expect(letters[0]!.letter).toMatchObject({ reason: 'too-deep', event: { raw: deep } });
}

describe('payloads no transform touched, through a small ring', () => {
  // The worker copies each range out of the ring (RangeCopy) before the sink copies the payloads.
  it.each(['sqlite', 'ndjson', 'module-text'] as const)(
    'reach %s byte for byte, every id once, and the 20 000-deep line is dead-lettered whole as too-deep',
    (kind) => throughSmallRing(kind, undefined, (line) => line),
  );
});

describe('payloads a lazy transform enriched, through a small ring', () => {
  it.each(['sqlite', 'ndjson', 'module-text'] as const)(
    'reach %s as their text with the member spliced in, every id once',
    (kind) => throughSmallRing(kind, fixtureUrl('lazy-enrich-transform'), enriched),
  );
});

nats.announce('exact payloads: nats-jetstream');
describe.skipIf(nats.skip)('from NATS JetStream', () => {
  let nc: NatsConnection;
  const streams: string[] = [];
  beforeAll(async () => {
    nats.require();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    const jsm = await nc.jetstreamManager();
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  it.each(SINKS)('into %s', async (kind) => {
    const s = scene();
    const t = target(s, kind);
    const stream = brokerName('EXACT');
    const subject = brokerName('exact');
    await (await nc.jetstreamManager()).streams.add({ name: stream, subjects: [`${subject}.>`] });
    streams.push(stream);
    for (const line of LINES) await nc.jetstream().publish(`${subject}.e`, line);
    await runSource(
      s,
      t.spec,
      () => new NatsJetStreamSource({ servers: nats.url, stream, durable: 'exact' }),
      async () => {},
    );
    await expectExact(kind, await t.stored());
  });
});

redis.announce('exact payloads: redis-streams');
describe.skipIf(redis.skip)('from Redis Streams', () => {
  let client: Redis;
  const keys: string[] = [];
  beforeAll(() => {
    redis.require();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    for (const key of keys) await client.del(key);
    client.disconnect();
  });

  it.each(SINKS)('into %s', async (kind) => {
    const s = scene();
    const t = target(s, kind);
    const stream = brokerName('exact');
    keys.push(stream);
    for (const line of LINES) await client.xadd(stream, '*', 'data', line);
    await runSource(
      s,
      t.spec,
      () => new RedisStreamsSource({ url: redis.url, stream, group: 'exact' }),
      async () => {},
    );
    await expectExact(kind, await t.stored());
  });
});
