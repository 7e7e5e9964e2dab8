import type { SinkRecord } from './event.js';

/**
 * A sink record whose payload is JSON bytes — the worker's copy of its batch's range of the ring
 * (RangeCopy), or a transform's output written into a PayloadArena — copied or decoded only when a
 * sink asks:
 * `copyPayload` puts the bytes straight into a sink's buffer (PostgreSQL's COPY), `payloadJson`
 * decodes them to a string, `payload` parses that. Built for events no transform touches, which
 * reach the built-in sinks as the bytes they were pushed as — numbers exact — without a parse and
 * a re-serialisation.
 *
 * Only the built-in sinks, which write JSON text, are handed these (see WorkerRuntime); the bytes
 * stay valid for as long as the record is referenced.
 */
export class TextRecord implements SinkRecord {
  readonly id: string;
  readonly key: string | undefined;
  readonly source: string | undefined;
  readonly ts: number | undefined;
  readonly route: string | readonly string[] | undefined;
  readonly #bytes: Buffer;
  readonly #start: number;
  readonly #end: number;
  #json: string | undefined;
  #payload: unknown;
  #parsed = false;

  constructor(
    id: string,
    key: string | undefined,
    source: string | undefined,
    ts: number | undefined,
    bytes: Buffer,
    start: number,
    end: number,
    route?: string | readonly string[],
  ) {
    this.id = id;
    this.key = key;
    this.source = source;
    this.ts = ts;
    this.route = route;
    this.#bytes = bytes;
    this.#start = start;
    this.#end = end;
  }

  get payloadJson(): string {
    this.#json ??= (this.#bytes as Utf8Buffer).utf8Slice(this.#start, this.#end);
    return this.#json;
  }

  get payload(): unknown {
    if (!this.#parsed) {
      this.#payload = JSON.parse(this.payloadJson);
      this.#parsed = true;
    }
    return this.#payload;
  }

  /** The payload's JSON size in UTF-8 bytes. */
  get payloadBytes(): number {
    return this.#end - this.#start;
  }

  /** Copies the payload's JSON bytes into `target` at `at`; returns how many. */
  copyPayload(target: Buffer, at: number): number {
    return this.#bytes.copy(target, at, this.#start, this.#end);
  }

  /** Own enumerable fields for JSON.stringify, the payload included. */
  toJSON(): SinkRecord {
    return { id: this.id, key: this.key, source: this.source, ts: this.ts, payload: this.payload };
  }
}

interface Utf8Buffer extends Buffer {
  utf8Slice(start: number, end: number): string;
}

/**
 * A sink record whose payload is kept as its JSON text only, parsed again if a sink asks for
 * `payload`. A transform's outputs become these once serialised, for the built-in sinks: the
 * objects the transform built die with the event that made them instead of living as long as the
 * batch — young garbage, cheap to collect, rather than a batch's worth promoted to the old
 * generation and marked there.
 */
export class JsonRecord implements SinkRecord {
  readonly id: string;
  readonly key: string | undefined;
  readonly source: string | undefined;
  readonly ts: number | undefined;
  readonly payloadJson: string;
  readonly route: string | readonly string[] | undefined;

  constructor(
    id: string,
    key: string | undefined,
    source: string | undefined,
    ts: number | undefined,
    json: string,
    route?: string | readonly string[],
  ) {
    this.id = id;
    this.key = key;
    this.source = source;
    this.ts = ts;
    this.payloadJson = json;
    this.route = route;
  }

  get payload(): unknown {
    return JSON.parse(this.payloadJson);
  }

  toJSON(): SinkRecord {
    return { id: this.id, key: this.key, source: this.source, ts: this.ts, payload: this.payload };
  }
}
