import type { SinkRecord } from '../codec/event.js';
import type { Sink } from './sink.js';

/** Accepts everything and keeps only a count: for benchmarks and dry runs. */
export class NullSink implements Sink {
  readonly idempotent = true;
  written = 0;

  async open(): Promise<void> {}

  async write(records: readonly SinkRecord[]): Promise<undefined> {
    this.written += records.length;
    return undefined;
  }

  async close(): Promise<void> {}
}
