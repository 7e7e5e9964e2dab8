/**
 * A sink that stores nothing and takes `msPerBatch` plus `usPerRecord` of wall time per write,
 * without using CPU: a remote sink that is slower than the others (a far-away database, a rate
 * limited API).
 */
import type { SinkRecord } from '../../src/codec/event.js';
import type { Sink } from '../../src/sinks/sink.js';

interface DelaySinkOptions {
  msPerBatch?: number;
  usPerRecord?: number;
}

export default function createDelaySink(options: unknown): Sink {
  const { msPerBatch = 0, usPerRecord = 0 } = (options ?? {}) as DelaySinkOptions;
  return {
    idempotent: true,
    async open() {},
    async write(records: readonly SinkRecord[]) {
      const ms = msPerBatch + (records.length * usPerRecord) / 1000;
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
      return undefined;
    },
    async close() {},
  };
}
