import { TextRecord } from './text-record.js';

/** A chunk's size, bytes: some hundreds of ~300-byte payloads. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Where a worker keeps the JSON of a transform's outputs, as UTF-8 bytes outside V8's heap, for a
 * sink that copies payload bytes as they are (PostgreSQL's binary COPY, src/sinks/postgres-copy.ts).
 *
 * A batch's outputs live until the sink has written the batch. Kept as strings (JsonRecord), each
 * output's JSON — most of its size — is copied by every young-generation collection it lives
 * through and then promoted to the old generation, to be marked there: with a transform that
 * allocates, as most do, the collector ran every few hundred events and copied the batch's outputs
 * each time. Written here, an output is a small TextRecord over a range of a chunk.
 *
 * Chunks are never reused: a new one is taken when the current one is full, and a chunk lives for
 * as long as a record over it does (a retried batch, a dead letter) — a record's bytes never change.
 */
export class PayloadArena {
  #chunk: Buffer = Buffer.alloc(0);
  #at = 0;

  /** A record of these fields whose payload is `json`, written into the arena. */
  record(
    id: string,
    key: string | undefined,
    source: string | undefined,
    ts: number | undefined,
    json: string,
    route?: string | readonly string[],
  ): TextRecord {
    // At most three bytes of UTF-8 per UTF-16 unit (a surrogate pair's four bytes are two units):
    // room enough without measuring the string first. A text too long for a chunk is measured, so
    // the chunk it gets is its own size rather than three times it.
    let room = json.length * 3;
    if (room > CHUNK_BYTES) room = Buffer.byteLength(json, 'utf8');
    if (this.#chunk.length - this.#at < room) {
      this.#chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, room));
      this.#at = 0;
    }
    const start = this.#at;
    this.#at += (this.#chunk as Utf8Buffer).utf8Write(json, start, room);
    return new TextRecord(id, key, source, ts, this.#chunk, start, this.#at, route);
  }
}

/** Buffer's own UTF-8 writer, without the argument parsing of write() (see record-codec.ts). */
interface Utf8Buffer extends Buffer {
  utf8Write(value: string, offset: number, length: number): number;
}
