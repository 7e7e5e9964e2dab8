import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { brotliCompressSync, createGzip, deflateSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PipelineOptions } from '../../src/config/pipeline-options.js';
import { resolveRunConfig } from '../../src/config/run-config.js';
import type { Pipeline } from '../../src/engine/pipeline.js';
import { HttpSource, type HttpSourceOptions, type HttpSourceTarget } from '../../src/sources/http-source.js';
import { resolveHttpSourceOptions } from '../../src/sources/http-source-options.js';
import { createControl, GATE, GATE_CLOSED, WRITES_AT_GATE } from '../fixtures/engine/control.js';
import {
  fixtureUrl,
  ids,
  openGate,
  type Scene,
  turns,
  useScenes,
  waitForWord,
  watch,
} from '../helpers/engine.js';

const scene = useScenes();
const sources: HttpSource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.stop()));
});

interface Started {
  s: Scene;
  pipeline: Pipeline;
  source: HttpSource;
  url: string;
  words: Int32Array;
}

async function start(
  options: HttpSourceOptions = {},
  pipelineOptions: Partial<PipelineOptions> = {},
  gateOpen = true,
): Promise<Started> {
  const s = scene();
  const control = createControl(gateOpen);
  const pipeline = await s.pipeline({
    workers: { min: 1, max: 1 },
    sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions({ control }) },
    deadLetter: { type: 'ndjson', path: s.deadLetterPath },
    ...pipelineOptions,
  });
  const source = new HttpSource({ port: 0, ...options });
  sources.push(source);
  void source.start(pipeline, new AbortController().signal);
  const url = await source.listening();
  return { s, pipeline, source, url, words: new Int32Array(control) };
}

function ndjson(events: readonly unknown[]): string {
  return `${events.map((event) => JSON.stringify(event)).join('\n')}\n`;
}

function post(
  url: string,
  body: string | Uint8Array,
  type = 'application/x-ndjson',
  headers: Record<string, string> = {},
) {
  return fetch(url, { method: 'POST', body, headers: { 'content-type': type, ...headers } });
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Sending {
  /** The request, to write more of its body, end it or destroy it. */
  req: ReturnType<typeof request>;
  /** The server's answer, read to its end; rejects if the exchange failed (a reset). */
  answer: Promise<Answer>;
  /** Resolves once the server's answer has begun (its status line and headers arrived). */
  answered: Promise<void>;
  /** Resolves once the request closed: with the error it met (a reset), or undefined. */
  closed: Promise<Error | undefined>;
}

/**
 * A POST through node:http, by default on a connection of its own (no agent), its body written by
 * the caller: a Content-Length header makes it a sized body, none a chunked one.
 */
function send(url: string, headers: Record<string, string | number>, agent: Agent | false = false): Sending {
  const req = request(url, {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/x-ndjson', ...headers },
  });
  let begun!: () => void;
  const answered = new Promise<void>((resolve) => {
    begun = resolve;
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      begun();
      buffer(res).then(
        (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.toString('utf8') }),
        reject,
      );
    });
    req.on('error', reject);
  });
  // A test that destroys the request on purpose does not await the answer.
  answer.catch(() => undefined);
  const closed = new Promise<Error | undefined>((resolve) => {
    req.once('error', resolve).once('close', () => resolve(undefined));
  });
  return { req, answer, answered, closed };
}

const sortedIds = (s: Scene) =>
  s
    .rows()
    .map((r) => r.id)
    .sort();

describe('the http source', () => {
  it('binds to 127.0.0.1 on a free port and writes every line of an NDJSON body to the sink', async () => {
    const { s, pipeline, url } = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const all = ids('nd', 50);
    const response = await post(`${url}/ingest`, ndjson(all.map((id, n) => ({ id, payload: { n } }))));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 50 });
    await pipeline.drained();
    expect(sortedIds(s)).toEqual(all);
  });

  it('writes every element of a JSON array body to the sink', async () => {
    const { s, pipeline, url } = await start();
    const all = ids('arr', 20);
    const response = await post(
      `${url}/ingest`,
      JSON.stringify(all.map((id, n) => ({ id, payload: { n } }))),
      'application/json',
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 20 });
    await pipeline.drained();
    expect(sortedIds(s)).toEqual(all);
    expect(s.rows().find((r) => r.id === all[3])?.payload).toEqual({ id: all[3], payload: { n: 3 } });
  });

  it('with ?ack=sink answers only once the events are in the sink', async () => {
    const { s, url } = await start();
    const all = ids('ack', 30);
    const response = await post(`${url}/ingest?ack=sink`, ndjson(all.map((id) => ({ id, payload: {} }))));
    expect(response.status).toBe(200);
    expect(sortedIds(s)).toEqual(all);
  });

  it('refuses a request without the bearer token or with a wrong one with 401 and pushes nothing', async () => {
    const { s, pipeline, url } = await start({ token: 's3cret' });
    const body = ndjson([{ id: 'auth-1', payload: {} }]);
    const missing = await post(`${url}/ingest`, body);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect((await post(`${url}/ingest`, body, undefined, { authorization: 'Bearer s3creT' })).status).toBe(
      401,
    );
    expect((await post(`${url}/ingest`, body, undefined, { authorization: 'Bearer s3' })).status).toBe(401);
    expect(pipeline.stats().queue.recordsWritten).toBe(0);
    const ok = await post(`${url}/ingest?ack=sink`, body, undefined, { authorization: 'Bearer s3cret' });
    expect(ok.status).toBe(200);
    expect(sortedIds(s)).toEqual(['auth-1']);
  });

  it('answers 413 naming the first event larger than queue.maxRecordBytes, NDJSON line or array element, and pushes none of the body', async () => {
    const { pipeline, url } = await start({}, { queue: { capacityBytes: 64 * 1024, maxRecordBytes: 1024 } });
    const big = { id: 'big', payload: 'x'.repeat(2000) };
    const small = (id: string) => ({ id, payload: {} });
    // Line 2 is blank: the events are counted from 0, the blank line not among them.
    const lines = await post(
      `${url}/ingest`,
      `${JSON.stringify(small('a'))}\n\n${JSON.stringify(small('b'))}\n${JSON.stringify(big)}\n`,
    );
    expect(lines.status).toBe(413);
    expect(await lines.json()).toEqual({ error: 'event 2 is larger than queue.maxRecordBytes (1024)' });
    const array = await post(
      `${url}/ingest`,
      JSON.stringify([small('c'), big, small('d')]),
      'application/json',
    );
    expect(array.status).toBe(413);
    expect(await array.json()).toEqual({ error: 'event 1 is larger than queue.maxRecordBytes (1024)' });
    expect(pipeline.stats().queue.recordsWritten).toBe(0);
  });

  it('answers 413 to a body over maxBodyBytes, even one sent without a length, and pushes none of it', async () => {
    const { pipeline, url } = await start({ maxBodyBytes: 1024 });
    const line = `${JSON.stringify({ id: 'big', payload: { text: 'x'.repeat(200) } })}\n`;
    const status = await new Promise<number>((resolve, reject) => {
      // Chunked: the server cannot tell from a Content-Length, it must count while reading.
      const req = request(`${url}/ingest`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write(line);
    });
    expect(status).toBe(413);
    const declared = await post(`${url}/ingest`, line.repeat(20));
    expect(declared.status).toBe(413);
    expect(pipeline.stats().queue.recordsWritten).toBe(0);
  });

  it('answers 404 for another path and 405 for another method', async () => {
    const { url } = await start();
    expect((await post(`${url}/other`, '{}\n')).status).toBe(404);
    const get = await fetch(`${url}/ingest`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('answers 404, as for another path, to a request target no URL can be made of, and logs no error', async () => {
    const errors = vi.fn();
    const { pipeline, url } = await start();
    const spy = vi.spyOn(pipeline.logger, 'error').mockImplementation(errors);
    for (const target of ['//', '/\\', '//[::1']) {
      const sending = send(url, { 'content-length': 3 });
      sending.req.path = target;
      sending.req.end('{}\n');
      const answer = await sending.answer;
      expect({ target, status: answer.status, body: JSON.parse(answer.body) }).toEqual({
        target,
        status: 404,
        body: { error: 'not found' },
      });
    }
    expect(errors).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  // With two partitions, key-less events of one push land in one ring: each ring must have room.
  it.each([1, 2])(
    'answers 429 with Retry-After once the ring is full behind a stalled sink, and every event it accepted reaches the sink (%i partitions)',
    async (partitions) => {
      const { s, pipeline, url, words } = await start(
        { fullWaitMs: 0 },
        { queue: { capacityBytes: 16 * 1024, partitions }, batch: { maxRecords: 20 } },
        false,
      );
      const all = ids('full', 400);
      const body = ndjson(all.map((id) => ({ id, payload: { text: 'y'.repeat(100) } })));
      const first = await post(`${url}/ingest`, body);
      expect(first.status).toBe(429);
      expect(first.headers.get('retry-after')).toBe('1');
      const { accepted, rejected } = (await first.json()) as { accepted: number; rejected: number };
      expect(accepted).toBeGreaterThan(0);
      expect(accepted + rejected).toBe(400);
      await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
      // Still full: the next body is refused whole, at once, rather than left waiting.
      const more = ids('more', 400).map((id) => ({ id, payload: { text: 'y'.repeat(100) } }));
      const second = await post(`${url}/ingest`, ndjson(more));
      expect(second.status).toBe(429);
      expect(await second.json()).toEqual({ accepted: 0, rejected: 400 });
      // Derived from the ring's release rate: whole seconds, within its bounds.
      expect(second.headers.get('retry-after')).toMatch(/^([1-9]|[12]\d|30)$/);
      expect(pipeline.stats().queue.depthBytes).toBeLessThanOrEqual(16 * 1024 * partitions);

      openGate(words);
      await pipeline.drained();
      // Exactly the accepted prefix of the body, each once.
      expect(sortedIds(s)).toEqual(all.slice(0, accepted));
      expect(s.rows()).toHaveLength(accepted);
    },
  );

  it('with a disk queue, takes bodies past a full ring into the log while its backlog has room, and every event reaches the sink', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-http-disk-'));
    try {
      const { s, pipeline, url, words } = await start(
        { fullWaitMs: 0 },
        {
          queue: { capacityBytes: 16 * 1024, durability: 'disk', path: join(dir, 'queue'), fsync: 'never' },
          batch: { maxRecords: 20 },
        },
        false,
      );
      const all: string[] = [];
      for (let round = 0; round < 5; round++) {
        const batch = ids(`disk${round}`, 400);
        all.push(...batch);
        const response = await post(
          `${url}/ingest`,
          ndjson(batch.map((id) => ({ id, payload: { text: 'y'.repeat(100) } }))),
        );
        expect(response.status, `round ${round}`).toBe(200);
        expect(await response.json()).toEqual({ accepted: 400 });
      }
      // Far more than the ring holds: the rest waits in the log.
      expect(pipeline.stats().disk!.backlogBytes).toBeGreaterThan(16 * 1024);
      openGate(words);
      await pipeline.drained();
      expect(sortedIds(s)).toEqual([...all].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with several partitions, answers 429 while any ring is full rather than wait on it', async () => {
    const { s, pipeline, url, words } = await start(
      { fullWaitMs: 0 },
      { queue: { capacityBytes: 16 * 1024, partitions: 2 }, batch: { maxRecords: 20 } },
      false,
    );
    // Keyed events fill one ring; the other stays empty, so the queue as a whole has room.
    const keyed = ids('keyed', 400);
    let accepted = 0;
    for (const id of keyed) {
      const push = pipeline.push({ id, key: 'one-key', payload: { text: 'y'.repeat(100) } });
      const state = watch(push);
      await turns(1);
      if (!state.settled) break;
      accepted++;
    }
    const rings = pipeline.stats().partitions;
    expect(rings.filter((ring) => ring.depthBytes === 0)).toHaveLength(1);
    // A key-less push may land in the full ring: refused at once, never left waiting on it.
    const response = await post(`${url}/ingest`, ndjson([{ id: 'http-1', payload: {} }]));
    expect(response.status).toBe(429);
    expect(await response.json()).toEqual({ accepted: 0, rejected: 1 });

    openGate(words);
    await pipeline.drained();
    expect(s.rows().length).toBeGreaterThanOrEqual(accepted);
    expect(s.rows().map((row) => row.id)).not.toContain('http-1');
  });

  it('with fullWaitMs waits for room instead of refusing, and accepts the whole body once the sink recovers', async () => {
    const { s, pipeline, url, words } = await start(
      { fullWaitMs: 60_000 },
      { queue: { capacityBytes: 16 * 1024 }, batch: { maxRecords: 20 } },
      false,
    );
    const all = ids('wait', 400);
    const response = post(
      `${url}/ingest`,
      ndjson(all.map((id) => ({ id, payload: { text: 'z'.repeat(100) } }))),
    );
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    openGate(words);
    const answer = await response;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ accepted: 400 });
    await pipeline.drained();
    expect(sortedIds(s)).toEqual(all);
  });

  it('accepts malformed NDJSON lines into the ring, counts them, and the engine dead-letters them as invalid-json with their line numbers', async () => {
    const { s, url } = await start();
    const body = `${JSON.stringify({ id: 'good-1', payload: {} })}\n{not json\n\n${JSON.stringify({ id: 'good-2', payload: {} })}\n[1,\n`;
    const response = await post(`${url}/ingest?ack=sink`, body);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 4 });
    expect(sortedIds(s)).toEqual(['good-1', 'good-2']);
    const letters = s.deadLetters();
    expect(letters).toHaveLength(2);
    expect(letters.map((l) => l.letter.reason)).toEqual(['invalid-json', 'invalid-json']);
    // Where each was in the body, counting the blank line 3.
    expect(letters.map((l) => l.letter.event.source)).toEqual(['POST /ingest line 2', 'POST /ingest line 5']);
  });

  it('drops __proto__, constructor and prototype keys of a JSON array body, so nothing reaches Object.prototype', async () => {
    const { s, url } = await start();
    const body =
      '[{"__proto__":{"polluted":1}},' +
      '{"id":"p-1","payload":{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"ok":true}}]';
    const response = await post(`${url}/ingest?ack=sink`, body, 'application/json');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 2 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    const row = s.rows().find((r) => r.id === 'p-1');
    expect(row?.payload).toEqual({ id: 'p-1', payload: { ok: true } });
    // The element that was nothing but a __proto__ key arrives as an empty event, stripped too.
    const rows = s.rows();
    expect(rows).toHaveLength(2);
    expect(rows.some((r) => JSON.stringify(r.payload).includes('polluted'))).toBe(false);
  });

  it('cuts those keys out of the bytes sent: the rest exact, distinct ids distinct, bad bytes refused, a deep element dead-lettered alone', async () => {
    const { s, url } = await start();
    const depth = 20_000;
    const body = Buffer.concat([
      Buffer.from(
        '[{"id":12345678901234567890,"tag":"constructor","n":19.990000000000000001},' +
          '{"id":12345678901234567891,"tag":"constructor","n":1e-400,"constructor":{"x":1}},' +
          '{"id":"u',
      ),
      Buffer.from([0xff]),
      Buffer.from(
        '","prototype":1},' +
          `{"id":"deep","c":"__proto__","__proto__":0,"a":${'['.repeat(depth)}${']'.repeat(depth)}},` +
          '{"id":"after-deep","q":"__pro\\u0074o__","__pro\\u0074o__":{"polluted":1}}]',
      ),
    ]);
    const response = await post(`${url}/ingest?ack=sink`, body, 'application/json');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 5 });
    const db = new Database(s.dbPath, { readonly: true });
    const stored = db.prepare(`SELECT id, payload FROM "${s.table}" ORDER BY id`).all() as {
      id: string;
      payload: string;
    }[];
    db.close();
    expect(stored).toEqual([
      {
        id: '12345678901234567890',
        payload: '{"id":12345678901234567890,"tag":"constructor","n":19.990000000000000001}',
      },
      { id: '12345678901234567891', payload: '{"id":12345678901234567891,"tag":"constructor","n":1e-400}' },
      { id: 'after-deep', payload: '{"id":"after-deep","q":"__pro\\u0074o__"}' },
    ]);
    const letters = s.deadLetters();
    expect(letters.map((l) => l.letter.reason).sort()).toEqual(['invalid-event', 'too-deep']);
    expect(letters.find((l) => l.letter.reason === 'invalid-event')?.letter.lastError).toContain('UTF-8');
    expect(letters.find((l) => l.letter.reason === 'too-deep')?.letter.event.source).toBe(
      'POST /ingest element 4',
    );
  });

  it('takes a body opened by a UTF-8 byte order mark, NDJSON or a JSON array, as if it had none', async () => {
    const { s, pipeline, url } = await start();
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const lines = await post(
      `${url}/ingest`,
      Buffer.concat([bom, Buffer.from('{"id":"n1"}\n{"id":"n2"}\n')]),
    );
    expect(lines.status).toBe(200);
    const array = await post(
      `${url}/ingest`,
      Buffer.concat([bom, Buffer.from('[{"id":"a1"},{"id":"a2"}]')]),
      'application/json',
    );
    expect(array.status).toBe(200);
    await pipeline.drained();
    expect(sortedIds(s)).toEqual(['a1', 'a2', 'n1', 'n2']);
    expect(s.deadLetters()).toEqual([]);
  });

  it('answers 400 to a JSON body that is not an array, and 415 to another content type', async () => {
    const { url } = await start();
    expect((await post(`${url}/ingest`, '{"id":"x"}', 'application/json')).status).toBe(400);
    expect((await post(`${url}/ingest`, '[1,', 'application/json')).status).toBe(400);
    expect((await post(`${url}/ingest`, 'a', 'text/plain')).status).toBe(415);
  });
});

describe('the http source answers a body it refuses', () => {
  it.each([
    ['keeps its connection alive', true],
    ['asks for its connection to close', false],
  ])(
    'answers 413 to a chunked body over maxBodyBytes from a client that %s, and the client reads the answer rather than a reset',
    async (_, keepAlive) => {
      const { pipeline, url } = await start({ maxBodyBytes: 1024 });
      const agent = new Agent({ keepAlive });
      try {
        const line = `${JSON.stringify({ id: 'big', payload: { text: 'x'.repeat(200) } })}\n`;
        const sending = send(`${url}/ingest`, { 'transfer-encoding': 'chunked' }, agent);
        // 8 MiB handed over at once: the client is still sending when the server answers.
        sending.req.end(line.repeat(Math.ceil((8 * 1024 * 1024) / line.length)));
        const answer = await sending.answer;
        expect(answer.status).toBe(413);
        expect(JSON.parse(answer.body)).toEqual({ error: 'body larger than 1024 bytes' });
        // No EPIPE or ECONNRESET on the request either.
        expect(await sending.closed).toBeUndefined();
        expect(pipeline.stats().queue.recordsWritten).toBe(0);
      } finally {
        agent.destroy();
      }
    },
  );

  it('answers a request that waits on Expect: 100-continue before its client sends the body, unless the body is to be read', async () => {
    const { source, url } = await start({ maxBodyBytes: 4096, maxInFlightBytes: 4096 });
    const expecting = (length: number) => {
      const sending = send(`${url}/ingest`, { 'content-length': length, expect: '100-continue' });
      const state = { continued: false };
      sending.req.on('continue', () => {
        state.continued = true;
      });
      sending.req.flushHeaders();
      return { sending, state };
    };
    const large = expecting(8192);
    expect((await large.sending.answer).status).toBe(413);
    expect(large.state.continued).toBe(false);

    // Within maxBodyBytes, but not within what another request holds.
    const holder = send(`${url}/ingest`, { 'content-length': 4096 });
    holder.req.write('x');
    await vi.waitFor(() => expect(source.inFlightBytes).toBe(4096), { timeout: 20_000 });
    const busy = expecting(100);
    const refused = await busy.sending.answer;
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(busy.state.continued).toBe(false);
    holder.req.destroy();
    await vi.waitFor(() => expect(source.inFlightBytes).toBe(0), { timeout: 20_000 });

    const body = ndjson([{ id: 'continued-1', payload: {} }]);
    const fits = expecting(Buffer.byteLength(body));
    fits.sending.req.on('continue', () => fits.sending.req.end(body));
    const answer = await fits.sending.answer;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ accepted: 1 });
    expect(fits.state.continued).toBe(true);
  });
});

/** Resolves once `count` of `promises` have resolved. */
function firstResolved(promises: readonly Promise<unknown>[], count: number): Promise<void> {
  let resolved = 0;
  return new Promise((resolve) => {
    for (const promise of promises) {
      void promise.then(() => {
        if (++resolved === count) resolve();
      });
    }
  });
}

describe('the http source bounds the bytes of the bodies it holds', () => {
  it('answers 503 with Retry-After, before reading their bodies, to the requests that would take it over maxInFlightBytes, and writes every event of the others', async () => {
    const bodies = Array.from({ length: 6 }, (_, b) =>
      ndjson(ids(`held-${b}`, 100).map((id) => ({ id, payload: { text: 'h'.repeat(1000) } }))),
    );
    const length = Buffer.byteLength(bodies[0]!);
    // Room for two bodies at once, not three.
    const { s, pipeline, source, url } = await start({
      maxBodyBytes: length,
      maxInFlightBytes: Math.floor(2.5 * length),
    });
    const half = Math.floor(length / 2);
    const sendings = bodies.map((body) => {
      const sending = send(`${url}/ingest`, { 'content-length': length });
      // Half of each body: none can finish, so whatever one holds stays held.
      sending.req.write(body.slice(0, half));
      return sending;
    });
    const begun = sendings.map((sending) => watch(sending.answered));
    await firstResolved(
      sendings.map((sending) => sending.answered),
      4,
    );
    const heldAt = sendings.flatMap((_, i) => (begun[i]!.settled ? [] : [i]));
    const refused = sendings.filter((_, i) => !heldAt.includes(i));
    const held = heldAt.map((i) => sendings[i]!);
    expect(refused).toHaveLength(4);
    expect(source.inFlightBytes).toBe(2 * length);

    sendings.forEach((sending, i) => {
      sending.req.end(bodies[i]!.slice(half));
    });
    for (const sending of refused) {
      const answer = await sending.answer;
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
    }
    for (const sending of held) {
      const answer = await sending.answer;
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ accepted: 100 });
    }
    await pipeline.drained();
    const heldIds = heldAt
      .flatMap((i) => bodies[i]!.trim().split('\n'))
      .map((line) => (JSON.parse(line) as { id: string }).id)
      .sort();
    expect(heldIds).toHaveLength(200);
    expect(sortedIds(s)).toEqual(heldIds);
    expect(source.inFlightBytes).toBe(0);
  });

  it('answers 408 and closes a body that sends nothing for bodyIdleMs, freeing what its declared length held', async () => {
    const maxBodyBytes = 64 * 1024;
    const { s, pipeline, url } = await start({
      maxBodyBytes,
      maxInFlightBytes: 2 * maxBodyBytes,
      bodyIdleMs: 300,
    });
    // Two clients declare the largest body and send 14 bytes of it: the budget is theirs.
    const stalled = [
      send(`${url}/ingest`, { 'content-length': maxBodyBytes }),
      send(`${url}/ingest`, { 'content-length': maxBodyBytes }),
    ];
    for (const client of stalled) client.req.write('{"id":"stall"}');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const meanwhile = await post(`${url}/ingest`, ndjson([{ id: 'early', payload: {} }]));
    expect(meanwhile.status).toBe(503);
    for (const client of stalled) {
      const answer = await client.answer;
      expect(answer.status).toBe(408);
      expect(answer.headers.connection).toBe('close');
      expect(JSON.parse(answer.body)).toEqual({
        error: 'the request body sent nothing for 300 ms (source.bodyIdleMs)',
        accepted: 0,
      });
      expect(await client.closed).toBeUndefined();
    }
    const after = await post(`${url}/ingest`, ndjson([{ id: 'after', payload: {} }]));
    expect(after.status).toBe(200);
    await pipeline.drained();
    expect(sortedIds(s)).toEqual(['after']);
  });

  it('refuses a bodyIdleMs that is not a positive integer, naming the field and its value', () => {
    expect(() => new HttpSource({ bodyIdleMs: 0 })).toThrow(
      'source.bodyIdleMs must be an integer of milliseconds from 1 to 2147483647, got 0',
    );
  });

  it('refuses a maxInFlightBytes smaller than maxBodyBytes, naming the field and its value', () => {
    expect(() => new HttpSource({ maxBodyBytes: 4096, maxInFlightBytes: 1024 })).toThrow(
      'source.maxInFlightBytes must be an integer of bytes ≥ maxBodyBytes (4096), got 1024',
    );
    expect(() => new HttpSource({ maxInFlightBytes: 1.5 })).toThrow(/^source\.maxInFlightBytes must be/);
  });

  it('gives back what a request held once it ends: answered, refused as malformed, or abandoned by its client', async () => {
    const { source, url } = await start({ maxBodyBytes: 64 * 1024 });
    expect((await post(`${url}/ingest`, ndjson([{ id: 'r-1', payload: {} }]))).status).toBe(200);
    expect(source.inFlightBytes).toBe(0);
    expect((await post(`${url}/ingest`, '[1,', 'application/json')).status).toBe(400);
    expect(source.inFlightBytes).toBe(0);
    const abandoned = send(`${url}/ingest`, { 'content-length': 1000 });
    abandoned.req.write('x'.repeat(500));
    await vi.waitFor(() => expect(source.inFlightBytes).toBe(1000), { timeout: 20_000 });
    abandoned.req.destroy();
    await vi.waitFor(
      () => {
        expect(source.inFlightBytes).toBe(0);
        expect(source.inFlightRequests).toBe(0);
      },
      { timeout: 20_000 },
    );
  });
});

/** `bytes` of zeros through gzip, compressed a MiB at a time so the zeros never exist at once. */
function gzipOfZeros(bytes: number): Promise<Buffer> {
  const zeros = Buffer.alloc(1024 * 1024);
  const source = Readable.from(
    (function* () {
      for (let sent = 0; sent < bytes; sent += zeros.length) yield zeros;
    })(),
  );
  return buffer(source.pipe(createGzip({ level: 9 })));
}

describe('the http source decodes compressed bodies', () => {
  it.each([
    ['gzip', gzipSync],
    ['x-gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('writes every event of a body sent with Content-Encoding: %s', async (encoding, compress) => {
    const { s, url } = await start();
    const all = ids(`enc-${encoding}`, 200);
    const body = compress(
      Buffer.from(ndjson(all.map((id, n) => ({ id, payload: { n, text: 'c'.repeat(50) } })))),
    );
    const response = await post(`${url}/ingest?ack=sink`, body, undefined, { 'content-encoding': encoding });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ accepted: 200 });
    expect(sortedIds(s)).toEqual(all);
    expect(s.deadLetters()).toHaveLength(0);
  });

  it('answers 413 to a gzip bomb, inflating no more than maxBodyBytes of it', async () => {
    const { pipeline, url } = await start({ maxBodyBytes: 1024 * 1024 });
    const decodedBytes = 200 * 1024 * 1024;
    const bomb = await gzipOfZeros(decodedBytes);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const before = process.memoryUsage().rss;
    const response = await post(`${url}/ingest`, bomb, undefined, { 'content-encoding': 'gzip' });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: `body larger than ${1024 * 1024} bytes` });
    const grown = process.memoryUsage().rss - before;
    // A memory bound, not a timing: the decoded body (200 MiB) would show many times over.
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    expect(pipeline.stats().queue.recordsWritten).toBe(0);
  });

  it('answers 415 to a content encoding it cannot decode, and pushes none of it', async () => {
    const { pipeline, url } = await start();
    const body = ndjson([{ id: 'z-1', payload: {} }]);
    const zstd = await post(`${url}/ingest`, body, undefined, { 'content-encoding': 'zstd' });
    expect(zstd.status).toBe(415);
    expect(await zstd.json()).toEqual({
      error: 'content-encoding must be gzip, x-gzip, deflate, br or identity, got zstd',
    });
    const twice = await post(`${url}/ingest`, gzipSync(gzipSync(body)), undefined, {
      'content-encoding': 'gzip, gzip',
    });
    expect(twice.status).toBe(415);
    expect(pipeline.stats().queue.recordsWritten).toBe(0);
  });

  it('answers 400 to a corrupt or truncated gzip body, and pushes none of it', async () => {
    const { pipeline, url } = await start();
    const good = gzipSync(
      Buffer.from(ndjson(ids('bad', 50).map((id) => ({ id, payload: { text: 'b'.repeat(40) } })))),
    );
    const corrupt = Buffer.from(good);
    corrupt.fill(0xff, 10, good.length - 8);
    const truncated = good.subarray(0, good.length - 12);
    for (const body of [corrupt, truncated]) {
      const response = await post(`${url}/ingest`, body, undefined, { 'content-encoding': 'gzip' });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toMatch(/^gzip body is corrupt: /);
    }
    expect(pipeline.stats().queue.recordsWritten).toBe(0);
  });
  it('answers 400 to a deflate or br body with bytes after its compressed data, and pushes none of it', async () => {
    const { pipeline, url } = await start();
    const compressed = Buffer.from(ndjson(ids('cz', 3).map((id) => ({ id, payload: {} }))));
    const after = Buffer.from(ndjson(ids('after', 3).map((id) => ({ id, payload: {} }))));
    for (const [coding, compress] of [
      ['deflate', deflateSync],
      ['br', brotliCompressSync],
    ] as const) {
      const body = Buffer.concat([compress(compressed), after]);
      const response = await post(`${url}/ingest`, body, undefined, { 'content-encoding': coding });
      expect(response.status, coding).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe(
        `${coding} body is corrupt: ${after.length} bytes follow the end of its compressed data`,
      );
      // The same data without what follows is taken whole.
      const whole = await post(`${url}/ingest`, compress(compressed), undefined, {
        'content-encoding': coding,
      });
      expect(whole.status, coding).toBe(200);
    }
    // gzip's decoder reads zeros after its last member as padding, as it always did: taken.
    const padded = Buffer.concat([gzipSync(compressed), Buffer.alloc(8)]);
    const gzip = await post(`${url}/ingest`, padded, undefined, { 'content-encoding': 'gzip' });
    expect(gzip.status).toBe(200);
    await pipeline.drained();
    expect(pipeline.stats().queue.recordsWritten).toBe(9);
  });
});

describe('the http source stops promptly', () => {
  it('on stop, answers a request waiting on ?ack=sink with 503 and what it accepted, while the sink never acknowledges; the events stay accepted', async () => {
    const { s, pipeline, source, url, words } = await start({}, {}, false);
    const all = ids('parked', 10);
    const response = post(`${url}/ingest?ack=sink`, ndjson(all.map((id) => ({ id, payload: {} }))));
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    await vi.waitFor(() => expect(source.accepted).toBe(10), { timeout: 20_000 });
    await source.stop();
    // stop() resolved with the write still held at the closed gate: nothing was acknowledged.
    expect(Atomics.load(words, GATE)).toBe(GATE_CLOSED);
    expect(Atomics.load(words, WRITES_AT_GATE)).toBeGreaterThan(0);
    const answer = await response;
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({ error: 'shutting down', accepted: 10 });

    openGate(words);
    await pipeline.drained();
    expect(sortedIds(s)).toEqual(all);
  });

  it('stops waiting on ?ack=sink for a client that disconnected; its events stay accepted', async () => {
    const { s, pipeline, source, url, words } = await start({}, {}, false);
    const all = ids('gone', 10);
    const body = ndjson(all.map((id) => ({ id, payload: {} })));
    const sending = send(`${url}/ingest?ack=sink`, { 'content-length': Buffer.byteLength(body) });
    sending.req.end(body);
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    await vi.waitFor(() => expect(source.accepted).toBe(10), { timeout: 20_000 });
    expect(source.inFlightRequests).toBe(1);
    sending.req.destroy();
    await vi.waitFor(() => expect(source.inFlightRequests).toBe(0), { timeout: 20_000 });
    expect(Atomics.load(words, GATE)).toBe(GATE_CLOSED);

    openGate(words);
    await pipeline.drained();
    expect(sortedIds(s)).toEqual(all);
  });

  it('on stop, answers a request waiting for room (fullWaitMs) with 503, what it accepted and what it did not', async () => {
    const { s, pipeline, source, url, words } = await start(
      { fullWaitMs: 60_000 },
      { queue: { capacityBytes: 16 * 1024 }, batch: { maxRecords: 20 } },
      false,
    );
    const all = ids('room', 400);
    const response = post(
      `${url}/ingest`,
      ndjson(all.map((id) => ({ id, payload: { text: 'r'.repeat(100) } }))),
    );
    await waitForWord(words, WRITES_AT_GATE, (n) => n > 0, 'a write to reach the gate');
    await source.stop();
    expect(Atomics.load(words, GATE)).toBe(GATE_CLOSED);
    const answer = await response;
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('1');
    const { error, accepted, rejected } = (await answer.json()) as {
      error: string;
      accepted: number;
      rejected: number;
    };
    expect(error).toBe('shutting down');
    expect(accepted).toBeGreaterThan(0);
    expect(accepted + rejected).toBe(400);

    openGate(words);
    await pipeline.drained();
    // Every accepted event, in body order; a chunk whose push the stop cut short may follow them.
    const stored = sortedIds(s);
    expect(stored.length).toBeGreaterThanOrEqual(accepted);
    expect(stored).toEqual(all.slice(0, stored.length));
  });

  it('stop() does not wait for a push the pipeline never settles; the request is answered 503 with none of it accepted', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
    });
    let pushStarted!: () => void;
    const started = new Promise<void>((resolve) => {
      pushStarted = resolve;
    });
    // A push that never settles, as one stuck behind a ring that filled after the source looked.
    const target: HttpSourceTarget = {
      push: (event) => pipeline.push(event),
      pushMany: (events) => pipeline.pushMany(events),
      pushRaw: (bytes, key) => pipeline.pushRaw(bytes, key),
      pushRawMany: (lines, key) => pipeline.pushRawMany(lines, key),
      pushRawRecords: () => {
        pushStarted();
        return new Promise<number>(() => undefined);
      },
      pushLines: () => {
        pushStarted();
        return new Promise<number>(() => undefined);
      },
      logger: pipeline.logger,
      stats: () => pipeline.stats(),
      settled: () => pipeline.settled(),
      options: pipeline.options,
    };
    const source = new HttpSource({ port: 0 });
    sources.push(source);
    void source.start(target, new AbortController().signal);
    const url = await source.listening();
    const response = post(`${url}/ingest`, ndjson(ids('stuck', 10).map((id) => ({ id, payload: {} }))));
    await started;
    await source.stop();
    const answer = await response;
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({ error: 'shutting down', accepted: 0, rejected: 10 });
    expect(source.accepted).toBe(0);
  });
});

describe('the http source under a drop policy', () => {
  it('stops pushing a body at the first chunk the pipeline did not take whole, and answers 429 with what it accepted', async () => {
    const s = scene();
    const pipeline = await s.pipeline({
      workers: { min: 1, max: 1 },
      queue: { capacityBytes: 64 * 1024 },
      sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
    });
    // A pipeline that discards the second half of every push, as a drop policy may.
    const chunks: number[] = [];
    const target: HttpSourceTarget = {
      push: (event) => pipeline.push(event),
      pushMany: (events) => pipeline.pushMany(events),
      pushRaw: (bytes, key) => pipeline.pushRaw(bytes, key),
      pushRawMany: (lines, key) => pipeline.pushRawMany(lines, key),
      pushRawRecords: (records) => pipeline.pushRawRecords(records),
      pushLines: async (batch) => {
        chunks.push(batch.starts.length);
        return Math.floor(batch.starts.length / 2);
      },
      logger: pipeline.logger,
      stats: () => pipeline.stats(),
      settled: () => pipeline.settled(),
      options: pipeline.options,
    };
    const source = new HttpSource({ port: 0 });
    sources.push(source);
    void source.start(target, new AbortController().signal);
    const url = await source.listening();
    // About 40 KiB: several chunks of at most a 16 KiB record each.
    const body = ndjson(ids('drop', 400).map((id) => ({ id, payload: { pad: 'x'.repeat(64) } })));
    const answer = await post(`${url}/ingest`, body);
    expect(answer.status).toBe(429);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toBeLessThan(400);
    const accepted = Math.floor(chunks[0]! / 2);
    expect(await answer.json()).toEqual({ accepted, rejected: 400 - accepted });
    expect(source.accepted).toBe(accepted);
  });
});

describe('the http source in a run config', () => {
  const sink = { type: 'sqlite', path: 'out.db' };

  it('is accepted with its defaults filled in', () => {
    const config = resolveRunConfig({ source: { type: 'http', port: 0, token: 't' }, sink }, '/tmp', {});
    expect(config.source).toEqual({ type: 'http', port: 0, token: 't', path: '/ingest' });
  });

  it('a bad http source field is named with its value', () => {
    const problems = (source: unknown) => {
      try {
        resolveRunConfig({ source, sink }, '/tmp', {});
        return [];
      } catch (error) {
        return (error as { errors: string[] }).errors;
      }
    };
    expect(problems({ type: 'http', port: 70000 })).toEqual([
      'source.port must be a port from 0 to 65535, got 70000',
    ]);
    expect(problems({ type: 'http', path: 'ingest' })).toEqual([
      'source.path must be a URL path starting with "/", got "ingest"',
    ]);
    expect(problems({ type: 'http', token: '' })).toEqual([
      'source.token must be a non-empty string, got ""',
    ]);
    expect(problems({ type: 'http', maxBodyBytes: 0 })).toEqual([
      'source.maxBodyBytes must be a positive integer, got 0',
    ]);
    expect(problems({ type: 'http', fullWaitMs: -1 })).toEqual([
      'source.fullWaitMs must be an integer of milliseconds ≥ 0, got -1',
    ]);
    expect(problems({ type: 'http', maxInFlightBytes: 0 })).toEqual([
      'source.maxInFlightBytes must be a positive integer, got 0',
    ]);
    expect(problems({ type: 'http', rate: 5 })[0]).toMatch(/^source\.rate is not a known field/);
  });

  it('waits 250 ms for room by default, from the library and from a run config alike', () => {
    expect(resolveHttpSourceOptions({}).fullWaitMs).toBe(250);
    const config = resolveRunConfig({ source: { type: 'http' }, sink: { type: 'null' } }, '/tmp', {});
    expect(config.source).not.toHaveProperty('fullWaitMs', 0);
    expect(resolveHttpSourceOptions(config.source as HttpSourceOptions).fullWaitMs).toBe(250);
  });
});
