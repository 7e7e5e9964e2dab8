import { pathToFileURL } from 'node:url';
import { NatsJetStreamSink } from './nats-jetstream-sink.js';
import { NdjsonSink } from './ndjson-sink.js';
import { NullSink } from './null-sink.js';
import { PostgresSink } from './postgres-sink.js';
import { RedisStreamsSink } from './redis-streams-sink.js';
import type { Sink } from './sink.js';
import type { ResolvedSinkSpec } from './sink-spec.js';
import { SqliteSink } from './sqlite-sink.js';

/** What a custom sink module's default export receives. */
export interface SinkContext {
  /** Which worker thread builds the sink. */
  threadId: number;
  /** `sink` or `deadLetter`. */
  role: 'sink' | 'deadLetter';
  /** The pipeline's ordering; under `key` see WriteOutcome for what partial failures must respect. */
  ordering: 'none' | 'key';
  /** A lock the pipeline's workers share, for sinks that take one writer at a time (see WriterLock). */
  writerLock?: SharedArrayBuffer;
}

/** A custom sink module's default export. */
export type SinkFactory = (options: unknown, context: SinkContext) => Sink | Promise<Sink>;

/**
 * Builds (but does not open) the sink a resolved spec describes; its options were validated when
 * it was resolved, on the main thread, and are not checked again here.
 */
export async function createSink(spec: ResolvedSinkSpec, context: SinkContext): Promise<Sink> {
  if ('module' in spec) {
    const url = /^[a-z]+:/i.test(spec.module) ? spec.module : pathToFileURL(spec.module).href;
    const module = (await import(url)) as { default?: SinkFactory };
    if (typeof module.default !== 'function') {
      throw new TypeError(`sink module ${spec.module} must default-export a function that returns a Sink`);
    }
    return module.default(spec.options, context);
  }
  switch (spec.type) {
    case 'null':
      return new NullSink();
    case 'ndjson':
      return new NdjsonSink(spec);
    case 'sqlite':
      return new SqliteSink(spec, context.writerLock);
    case 'postgres':
      return new PostgresSink(spec);
    case 'nats-jetstream':
      return new NatsJetStreamSink(spec);
    case 'redis-streams':
      return new RedisStreamsSink(spec);
  }
}
