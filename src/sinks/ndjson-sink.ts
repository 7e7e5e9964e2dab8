import { closeSync, fdatasyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SinkRecord } from '../codec/event.js';
import { recordJson, type Sink } from './sink.js';
import { requireOpen, sinkFailure } from './sink-support.js';

const LFS = /\n/g;

export interface NdjsonSinkOptions {
  /** File to append to; created with its directory if missing. */
  path: string;
  /**
   * `batch`: fdatasync after every batch, before it is acknowledged — an acknowledged event
   * survives a power loss. `never`: leave flushing to the OS — faster, survives a process crash
   * but not a machine crash.
   * @default 'batch'
   */
  fsync?: 'batch' | 'never';
}

export const DEFAULT_NDJSON_SINK_OPTIONS = { fsync: 'batch' } as const satisfies Partial<NdjsonSinkOptions>;

/** Every option given; only src/config/sinks/ndjson-sink-schema.ts makes these. */
export type ResolvedNdjsonSinkOptions = Required<NdjsonSinkOptions>;

/**
 * Appends one JSON line per record. Each batch is one `write` to a file opened with O_APPEND, so
 * batches from several workers never interleave inside a line. Not idempotent: a batch delivered
 * twice (after a worker crash) appears twice; readers deduplicate by `id`.
 */
export class NdjsonSink implements Sink {
  readonly idempotent = false;
  readonly #path: string;
  readonly #fsync: boolean;
  #fd: number | undefined;

  /** `options` as resolved on the main thread. */
  constructor(options: ResolvedNdjsonSinkOptions) {
    this.#path = options.path;
    // Only an explicit 'never' turns the fsync off: durability is not lost to a mode spelt wrong.
    this.#fsync = options.fsync !== 'never';
  }

  async open(): Promise<void> {
    mkdirSync(dirname(this.#path), { recursive: true });
    this.#fd = openSync(this.#path, 'a');
  }

  async write(records: readonly SinkRecord[]): Promise<undefined> {
    const fd = requireOpen(this.#fd, 'ndjson');
    let text = '';
    for (const record of records) {
      const json = recordJson(record);
      // A payload written as it was received may hold LF between its tokens (an HTTP body's element
      // over several lines): whitespace to JSON, the end of a record to NDJSON. JSON's strings
      // cannot hold one raw, so every LF found is whitespace, and a space keeps the record one line
      // meaning the same. A CR there is whitespace NDJSON carries (its lines end at LF): kept, so
      // the payload stays byte for byte.
      text += `${json.indexOf('\n') === -1 ? json : json.replace(LFS, ' ')}\n`;
    }
    const bytes = Buffer.from(text);
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written);
      if (this.#fsync) fdatasyncSync(fd);
    } catch (error) {
      throw sinkFailure('ndjson', `write to ${this.#path} failed`, error, { retryable: true });
    }
    return undefined;
  }

  async close(): Promise<void> {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
