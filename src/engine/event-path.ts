import type { Logger } from 'pino';
import {
  DEFAULT_MAX_DEPTH,
  DecodeFailure,
  decodeEvent,
  decodeTextFields,
  LINE_FIELDS,
  type RecordFields,
  withPayload,
} from '../codec/decode-event.js';
import type { DecodedEvent, SinkRecord, SluiceEvent } from '../codec/event.js';
import { LazyPayload } from '../codec/lazy-payload.js';
import type { PayloadArena } from '../codec/payload-arena.js';
import { JsonRecord } from '../codec/text-record.js';
import { type DeadLetter, deadLetter, deadLetterRecord, describeError } from '../delivery/dead-letter.js';
import { type DeliveryHooks, deliverBatch } from '../delivery/deliver-batch.js';
import type { ResolvedRetryOptions } from '../delivery/retry-options.js';
import { SinkError } from '../errors.js';
import type { Sink } from '../sinks/sink.js';
import { applyTransform } from '../transforms/apply-transform.js';
import type { LoadedTransform } from '../transforms/transform.js';
import type { RouteChoice, RouteTable } from './route-table.js';

/**
 * The steps of the event path that do not depend on where events come from: the engine's worker
 * runs them on records read out of the ring (src/engine/worker-runtime.ts), and `sluice bench`'s
 * baselines on events handed over as objects or lines, so that both pay for the same work.
 *
 *   decode (the caller's: in place from the ring, or a line) — on failure, `undecodable`
 *   → `transformEvent`: validate, map/flatMap/filter, each output serialised once
 *   → deliverBatch (src/delivery/deliver-batch.ts) to the sink, with retry
 *   → `writeDeadLetters`: everything that failed, to the dead-letter sink
 */

/** What transformEvent needs besides the event: set up once per thread (the arena: per batch). */
export interface TransformStage {
  /** The transform module; undefined: none, events reach the sink as they were pushed. */
  transform: LoadedTransform | undefined;
  /** The sink writes JSON text only (a built-in sink): outputs go as text, their objects dropped. */
  textSink: boolean;
  /**
   * The sink copies each payload's JSON bytes as they are (see copiesPayloadBytes): outputs'
   * JSON is written into this, outside the heap, rather than kept as strings until the batch is
   * written (with textSink only). The batch's own: the engine's worker gives one to each batch.
   */
  payloadArena?: PayloadArena;
}

/**
 * Runs the transform on one decoded event, appending what it emits to
 * `out` — each output's payload serialised once, here — and what fails to `letters`. Returns a
 * promise only when the transform or its validator is asynchronous, so a synchronous transform
 * costs no await per event.
 */
export function transformEvent(
  stage: TransformStage,
  event: DecodedEvent,
  /**
   * The payload's JSON as it was pushed: what the sink gets without a transform, and what a dead
   * letter keeps of an output that cannot be serialised. Undefined for an event handed over as an
   * object, never serialised (the bench's in-process baseline).
   */
  text: string | undefined,
  out: SinkRecord[],
  letters: DeadLetter[],
  /** The view `event.payload` is, when it is one (see eventPayload). */
  lazy?: LazyPayload,
): Promise<void> | undefined {
  const transform = stage.transform;
  if (transform === undefined) {
    // Spelled out: in V8 11 (Node 20) a spread followed by another member takes the runtime's
    // slow path, ~0.5 µs an object, where a literal costs a few nanoseconds.
    out.push({
      id: event.id,
      key: event.key,
      source: event.source,
      ts: event.ts,
      payload: event.payload,
      payloadJson: text,
    });
    return undefined;
  }
  const before = out.length;
  const pending = applyTransform(transform, event, out, letters);
  if (pending) return pending.then(() => serialiseOutputs(out, before, text, letters, stage, lazy));
  serialiseOutputs(out, before, text, letters, stage, lazy);
  return undefined;
}

/**
 * The payload a transform is given for its JSON text: a lazy view (src/codec/lazy-payload.ts) when
 * the transform asked for one and the text is an object, the text parsed otherwise. The text must
 * be valid JSON (checked by decodeFields, or serialised by push()).
 */
export function eventPayload(
  stage: TransformStage,
  text: string,
): { payload: unknown; lazy: LazyPayload | undefined } {
  const lazy = stage.transform?.lazyPayload === true ? LazyPayload.over(text) : undefined;
  return lazy === undefined
    ? { payload: JSON.parse(text) as unknown, lazy }
    : { payload: LazyPayload.proxyOf(lazy), lazy };
}

/**
 * Serialises the payloads a transform emitted for one event (out[from…]), once, here: a payload
 * that cannot be written as JSON — nested too deep for the serialiser, a BigInt, a cycle, a
 * function — is dead-lettered as `unserializable` with the event's text, instead of failing its
 * whole batch in the sink.
 */
function serialiseOutputs(
  out: SinkRecord[],
  from: number,
  text: string | undefined,
  letters: DeadLetter[],
  stage: TransformStage,
  lazy: LazyPayload | undefined,
): void {
  const textOnly = stage.textSink;
  const arena = stage.payloadArena;
  let kept = from;
  const view = lazy === undefined ? undefined : LazyPayload.proxyOf(lazy);
  for (let i = from; i < out.length; i++) {
    const record = out[i]!;
    const isView = view !== undefined && record.payload === view;
    let json: string | undefined;
    let failure: unknown;
    try {
      // The view's own text, with what the transform added, when that still describes it.
      json = isView ? LazyPayload.json(lazy!) : JSON.stringify(record.payload);
    } catch (error) {
      failure = error;
    }
    if (json === undefined) {
      letters.push(
        deadLetter(
          { id: record.id, key: record.key, source: record.source, ts: record.ts, raw: text },
          'unserializable',
          failure ?? `payload cannot be written as JSON (${typeof record.payload})`,
        ),
      );
      continue;
    }
    // A built-in sink needs the text only: the payload object need not outlive this event.
    if (textOnly)
      out[kept++] =
        arena === undefined
          ? new JsonRecord(record.id, record.key, record.source, record.ts, json, record.route)
          : arena.record(record.id, record.key, record.source, record.ts, json, record.route);
    else {
      record.payloadJson = json;
      // A sink that takes objects gets a plain one, not the view (a Proxy: not cloneable),
      // parsed from the JSON only if it reads it.
      if (isView) parsedOnRead(record);
      out[kept++] = record;
    }
  }
  out.length = kept;
}

/**
 * Makes `record.payload` its `payloadJson` parsed when first read (then an ordinary property): an
 * own enumerable accessor, so spreading, cloning or serialising the record reads it as a value.
 */
function parsedOnRead(record: SinkRecord): void {
  Object.defineProperty(record, 'payload', {
    get: parseRecordPayload,
    set: setRecordPayload,
    enumerable: true,
    configurable: true,
  });
}

function parseRecordPayload(this: SinkRecord): unknown {
  const value = JSON.parse(this.payloadJson!) as unknown;
  setRecordPayload.call(this, value);
  return value;
}

function setRecordPayload(this: SinkRecord, value: unknown): void {
  Object.defineProperty(this, 'payload', { value, writable: true, enumerable: true, configurable: true });
}

/** A record that cannot become an event: its dead letter keeps its fields and its text. */
export function undecodable(fields: RecordFields, text: string, error: unknown): DeadLetter {
  const reason =
    error instanceof DecodeFailure ? error.reason : fields.raw ? 'invalid-json' : 'invalid-event';
  return deadLetter(
    {
      id: fields.id,
      key: fields.key,
      source: fields.source,
      ts: fields.ts ?? (error instanceof DecodeFailure ? error.ts : undefined),
      raw: (error instanceof DecodeFailure ? error.raw : undefined) ?? text,
    },
    reason,
    error instanceof DecodeFailure ? (error.cause ?? error.message) : error,
  );
}

/**
 * The dead-letter sink is the last place an event can go: it is retried for as long as it takes
 * (the batch held in the ring meanwhile), never given up on.
 */
export function deadLetterRetry(retry: ResolvedRetryOptions): ResolvedRetryOptions {
  return { ...retry, maxAttempts: Number.POSITIVE_INFINITY, maxElapsedMs: Number.POSITIVE_INFINITY };
}

/** How writing a batch's dead letters ended. */
export type DeadLetterWrite =
  | { ok: true }
  | {
      ok: false;
      /** The dead-letter sink's last error. */
      error: string;
      /** It refused a letter outright, even without its payload: split the range around it. */
      isolate: boolean;
      /** It is still failing retryably: try the range again after this long, ms. */
      retryInMs: number | undefined;
    };

/**
 * Writes dead letters, with `retry` as deadLetterRetry made it. A letter the sink refuses outright
 * is tried once more without its payload; what it refuses again, or what it still fails to take
 * at `yieldAt` (wall-clock ms), makes the write fail: the caller keeps the events.
 */
export async function writeDeadLetters(
  sink: Sink,
  letters: readonly DeadLetter[],
  retry: ResolvedRetryOptions,
  log: Pick<Logger, 'warn'>,
  yieldAt?: number,
  hooks: DeliveryHooks = {},
): Promise<DeadLetterWrite> {
  let report = await deliverBatch(sink, letters.map(deadLetterRecord), retry, hooks, { yieldAt });
  if (report.deadLetters.length > 0 && !report.held) {
    const refused = new Set(report.deadLetters.map((l) => l.event.id));
    const bare = letters.filter((l) => refused.has(l.event.id)).map(withoutPayload);
    log.warn(
      { events: bare.length, error: report.deadLetters[0]!.lastError },
      'dead-letter sink refused letters; writing them without their payload',
    );
    report = await deliverBatch(sink, bare.map(deadLetterRecord), retry, hooks, { yieldAt });
    const still = new Set(report.deadLetters.map((l) => l.event.id));
    const escaped = bare.filter((l) => still.has(l.event.id)).map(withEscapedFields);
    if (!report.held && escaped.length > 0 && escaped.every((l) => l !== undefined)) {
      // Refused for what the event's id, key or source hold (a NUL PostgreSQL cannot store, a line
      // break a NATS header cannot carry): written with those escaped, rather than hold the
      // range, and every event behind it, for ever.
      log.warn(
        { events: escaped.length, error: report.deadLetters[0]!.lastError },
        'dead-letter sink refused letters without their payload; writing them with their id, key and source escaped',
      );
      report = await deliverBatch(sink, escaped.map(deadLetterRecord), retry, hooks, { yieldAt });
    }
  }
  if (report.held || report.deadLetters.length > 0) {
    const error = report.held ? describeError(report.held.error) : report.deadLetters[0]!.lastError;
    return { ok: false, error, isolate: !report.held, retryInMs: report.held?.retryInMs };
  }
  return { ok: true };
}

/** A character a sink may refuse in an id, key or source: C0 and C1 controls, DEL, a lone surrogate. */
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters to escape.
  /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSAFE_ALL = new RegExp(`${UNSAFE.source}|\\\\`, 'g');

/** `text` with each unsafe character, and each backslash, written as a JSON-style escape. */
function escaped(text: string): string {
  return text.replace(UNSAFE_ALL, (c) =>
    c === '\\' ? '\\\\' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * A payload-less letter (withoutPayload) with its event's id, key and source, its error and its
 * route escaped (backslashes doubled, unsafe characters as `\uXXXX`), or undefined when none holds
 * an unsafe character — escaping would change nothing the sink refused. An error may quote the
 * value that failed: a NUL in a key, in the words of a transform's error, is refused as jsonb too.
 */
function withEscapedFields(letter: DeadLetter): DeadLetter | undefined {
  const { id, key, source } = letter.event;
  const { lastError, route } = letter;
  const unsafe = (text: string | undefined) => text !== undefined && UNSAFE.test(text);
  if (!unsafe(id) && !unsafe(key) && !unsafe(source) && !unsafe(lastError) && !unsafe(route))
    return undefined;
  const event = {
    ...letter.event,
    id: escaped(id),
    key: key === undefined ? undefined : escaped(key),
    source: source === undefined ? undefined : escaped(source),
    fieldsEscaped:
      'id, key, source, lastError and route with backslashes doubled and control characters and lone surrogates as \\uXXXX: the dead-letter sink refused them as they were',
  };
  return {
    ...letter,
    event,
    lastError: escaped(lastError),
    ...(route === undefined ? {} : { route: escaped(route) }),
  };
}

/** A dead letter with only the event's fields: for a dead-letter sink that refused the payload. */
function withoutPayload(letter: DeadLetter): DeadLetter {
  const { id, key, source, ts } = letter.event;
  return {
    ...letter,
    event: { id, key, source, ts, payloadError: 'left out: the dead-letter sink refused it' },
  };
}

/** What runEventPath needs: the loaded transform, the opened sinks and their retry options. */
export interface OneThreadPath {
  stage: TransformStage;
  sink: Sink;
  deadLetter: Sink;
  retry: ResolvedRetryOptions;
  /** deadLetterRetry(retry). */
  lettersRetry: ResolvedRetryOptions;
  log: Pick<Logger, 'warn'>;
  /**
   * Several routes: each record goes to the routes `table` chooses (in its order, `routes[i]`), in
   * place of `sink`; a record no route takes is an `unknown-route` dead letter.
   */
  routes?: { table: RouteTable; routes: OneThreadRoute[] };
}

/** One route as runEventPath writes it: its sink, its dead-letter sink, their retries. */
export interface OneThreadRoute {
  sink: Sink;
  deadLetter: Sink;
  retry: ResolvedRetryOptions;
  lettersRetry: ResolvedRetryOptions;
}

/**
 * The event path outside the ring, for code that runs it in one thread — the bench's baselines,
 * so that they do the engine's work and no other: each item, an event or an NDJSON line decoded as
 * a worker decodes a raw record, is transformed (transformEvent), the outputs are written with
 * retries (deliverBatch), and what fails is dead-lettered (writeDeadLetters). Resolves with the
 * number of records written; rejects if the dead-letter sink refuses what it was given.
 */
export async function runEventPath(
  items: readonly (SluiceEvent | string)[],
  path: OneThreadPath,
): Promise<number> {
  const out: SinkRecord[] = [];
  const letters: DeadLetter[] = [];
  for (const item of items) {
    let event: DecodedEvent;
    let text: string | undefined;
    let lazy: LazyPayload | undefined;
    if (typeof item === 'string') {
      try {
        // A line is its event's payload, as a raw record's text is in the engine, and is decoded
        // as a worker decodes it: parsed in one pass unless the transform reads it lazily.
        if (path.stage.transform?.lazyPayload === true) {
          const fields = decodeTextFields(LINE_FIELDS, item, DEFAULT_MAX_DEPTH);
          const opened = eventPayload(path.stage, item);
          event = withPayload(fields, opened.payload);
          lazy = opened.lazy;
        } else event = decodeEvent(LINE_FIELDS, item, DEFAULT_MAX_DEPTH);
        text = item;
      } catch (error) {
        letters.push(undecodable(LINE_FIELDS, item, error));
        continue;
      }
    } else event = item as DecodedEvent;
    const pending = transformEvent(path.stage, event, text, out, letters, lazy);
    if (pending) await pending;
  }
  if (path.routes) await deliverRoutes(out, path.routes, letters, path.log);
  else if (out.length > 0) letters.push(...(await deliverBatch(path.sink, out, path.retry)).deadLetters);
  if (letters.length > 0) {
    const written = await writeDeadLetters(path.deadLetter, letters, path.lettersRetry, path.log);
    if (!written.ok) throw new SinkError(`dead-letter sink failed: ${written.error}`, { retryable: false });
  }
  return out.length;
}

/** runEventPath's delivery with several routes: each route's share, then its refusals to its dead-letter sink. */
async function deliverRoutes(
  out: readonly SinkRecord[],
  routed: { table: RouteTable; routes: OneThreadRoute[] },
  letters: DeadLetter[],
  log: Pick<Logger, 'warn'>,
): Promise<void> {
  const shares: SinkRecord[][] = routed.routes.map(() => []);
  routeEach(routed.table, out, letters, (k, route) => shares[route]!.push(out[k]!));
  await Promise.all(
    shares.map(async (records, i) => {
      if (records.length === 0) return;
      const route = routed.routes[i]!;
      const refused = (await deliverBatch(route.sink, records, route.retry)).deadLetters;
      if (refused.length === 0) return;
      for (const letter of refused) letter.route = routed.table.names[i]!;
      const written = await writeDeadLetters(route.deadLetter, refused, route.lettersRetry, log);
      if (!written.ok) throw new SinkError(`dead-letter sink failed: ${written.error}`, { retryable: false });
    }),
  );
}

/**
 * Hands each record to the routes `table` chooses for it (`take(index of the record, route)`, once
 * per route); a record no route takes becomes an `unknown-route` dead letter in `letters`.
 */
export function routeEach(
  table: RouteTable,
  records: readonly SinkRecord[],
  letters: DeadLetter[],
  take: (k: number, route: number) => void,
): void {
  for (let k = 0; k < records.length; k++) {
    const record = records[k]!;
    let choice: RouteChoice;
    try {
      choice = table.choose(record);
    } catch (error) {
      choice = { unknown: `its route could not be chosen: ${describeError(error)}` };
    }
    if (typeof choice === 'number') take(k, choice);
    else if ('unknown' in choice) {
      const { id, key, source, ts, payload } = record;
      letters.push(deadLetter({ id, key, source, ts, payload }, 'unknown-route', choice.unknown));
    } else for (const route of choice) take(k, route);
  }
}
