/**
 * A sink that is down while word 0 of `control` (a SharedArrayBuffer) is not 0 — every write fails
 * retryably, as a database that went away — and otherwise counts what it is given (word 1) and
 * stores nothing.
 */
import type { SinkRecord } from '../../src/codec/event.js';
import { SinkError } from '../../src/errors.js';
import type { Sink } from '../../src/sinks/sink.js';

export default function createDownSink(options: unknown): Sink {
  const words = new Int32Array((options as { control: SharedArrayBuffer }).control);
  return {
    idempotent: true,
    async open() {},
    async write(records: readonly SinkRecord[]) {
      if (Atomics.load(words, 0) !== 0) throw new SinkError('down-sink: down', { retryable: true });
      Atomics.add(words, 1, records.length);
      return undefined;
    },
    async close() {},
  };
}
