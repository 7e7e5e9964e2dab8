import type { SinkRecord } from '../sinks/sink.js';

/**
 * A sink record whose payload is its JSON text, parsed only if a sink asks for `payload`. Built for
 * events no transform touches: the built-in sinks write `payloadJson` — the pushed bytes, numbers
 * exact — and never pay for a parse and a re-serialisation.
 */
export class TextRecord implements SinkRecord {
  readonly id: string;
  readonly key: string | undefined;
  readonly source: string | undefined;
  readonly ts: number | undefined;
  readonly payloadJson: string;
  #payload: unknown;
  #parsed = false;

  constructor(
    id: string,
    key: string | undefined,
    source: string | undefined,
    ts: number | undefined,
    payloadJson: string,
  ) {
    this.id = id;
    this.key = key;
    this.source = source;
    this.ts = ts;
    this.payloadJson = payloadJson;
  }

  get payload(): unknown {
    if (!this.#parsed) {
      this.#payload = JSON.parse(this.payloadJson);
      this.#parsed = true;
    }
    return this.#payload;
  }

  /** Own enumerable fields for JSON.stringify and spreads, the payload included. */
  toJSON(): SinkRecord {
    return { id: this.id, key: this.key, source: this.source, ts: this.ts, payload: this.payload };
  }
}
