import type { BufferPool } from './buffer-pool.js';
import { TextRecord } from './text-record.js';

/** A chunk's size, bytes: some hundreds of ~300-byte payloads. */
export const ARENA_CHUNK_BYTES = 256 * 1024;

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
 * One arena per batch. Its chunks come from `pool` when one is given, and go back to it with
 * release() once the batch has ended in the ordinary way: a fresh chunk is a page fault for every
 * 4 KiB page its first write touches, on the worker's thread, and an unmapping when it is collected
 * (docs/MEASUREMENTS.md, "arena chunks used again"). Without release(), or for a text too long for
 * a chunk (a chunk of its own, never pooled), the collector frees them — a record's bytes never
 * change while anything can read it.
 */
export class PayloadArena {
  #chunk: Buffer = EMPTY;
  #at = 0;
  readonly #pool: BufferPool | undefined;
  /** The chunks taken from the pool, for release(). */
  readonly #taken: Buffer[] = [];

  constructor(pool?: BufferPool) {
    this.#pool = pool;
  }

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
    if (room > ARENA_CHUNK_BYTES) room = Buffer.byteLength(json, 'utf8');
    if (this.#chunk.length - this.#at < room) {
      this.#chunk = this.#newChunk(room);
      this.#at = 0;
    }
    const start = this.#at;
    this.#at += (this.#chunk as Utf8Buffer).utf8Write(json, start, room);
    return new TextRecord(id, key, source, ts, this.#chunk, start, this.#at, route);
  }

  #newChunk(room: number): Buffer {
    if (this.#pool === undefined || room > ARENA_CHUNK_BYTES)
      return Buffer.allocUnsafe(Math.max(ARENA_CHUNK_BYTES, room));
    const chunk = this.#pool.take(ARENA_CHUNK_BYTES);
    this.#taken.push(chunk);
    return chunk;
  }

  /**
   * Gives the pool's chunks back, and starts over empty. Only once nothing reads a record written
   * here any more — the batch's writes and dead letters settled — never after a write that may
   * still be running: the next batch writes over these bytes.
   */
  release(): void {
    const pool = this.#pool;
    if (pool !== undefined) for (const chunk of this.#taken) pool.give(chunk);
    this.#taken.length = 0;
    this.#chunk = EMPTY;
    this.#at = 0;
  }
}

const EMPTY = Buffer.alloc(0);

/** Buffer's own UTF-8 writer, without the argument parsing of write() (see record-codec.ts). */
interface Utf8Buffer extends Buffer {
  utf8Write(value: string, offset: number, length: number): number;
}
