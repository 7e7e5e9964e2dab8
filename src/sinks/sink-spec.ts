import type { NatsJetStreamSinkOptions, ResolvedNatsJetStreamSinkOptions } from './nats-jetstream-sink.js';
import type { NdjsonSinkOptions, ResolvedNdjsonSinkOptions } from './ndjson-sink.js';
import type { PostgresSinkOptions, ResolvedPostgresSinkOptions } from './postgres-sink.js';
import type { RedisStreamsSinkOptions, ResolvedRedisStreamsSinkOptions } from './redis-streams-sink.js';
import type { ResolvedSqliteSinkOptions, SqliteSinkOptions } from './sqlite-sink.js';

/** Which sink a worker opens: a built-in by type, or a user module whose default export builds one. */
export type SinkSpec =
  | { type: 'null' }
  | ({ type: 'ndjson' } & NdjsonSinkOptions)
  | ({ type: 'sqlite' } & SqliteSinkOptions)
  | ({ type: 'postgres' } & PostgresSinkOptions)
  | ({ type: 'nats-jetstream' } & NatsJetStreamSinkOptions)
  | ({ type: 'redis-streams' } & RedisStreamsSinkOptions)
  | {
      module: string | URL;
      options?: unknown;
      /**
       * The module writes each record's `payloadJson` and reads `payload` only when it needs it,
       * as the built-in sinks do: its records may then hold their payload as JSON text alone,
       * parsed if read (`payload` a getter, not an own property), which spares the workers a
       * parse or an object per event. @default false
       */
      writesText?: boolean;
    };

/**
 * A sink spec as resolveSinkSpec (src/config/sink-spec-schema.ts) returns it and worker threads receive it: every option of a
 * built-in type given, a module as a string. Sinks are built from these without checking again.
 */
export type ResolvedSinkSpec =
  | { type: 'null' }
  | ({ type: 'ndjson' } & ResolvedNdjsonSinkOptions)
  | ({ type: 'sqlite' } & ResolvedSqliteSinkOptions)
  | ({ type: 'postgres' } & ResolvedPostgresSinkOptions)
  | ({ type: 'nats-jetstream' } & ResolvedNatsJetStreamSinkOptions)
  | ({ type: 'redis-streams' } & ResolvedRedisStreamsSinkOptions)
  | { module: string; options?: unknown; writesText?: boolean };

/** The resolved form of a spec of type `Spec`. */
export type ResolvedSinkSpecOf<Spec extends SinkSpec> = Spec extends { type: infer Type }
  ? Extract<ResolvedSinkSpec, { type: Type }>
  : Extract<ResolvedSinkSpec, { module: string }>;
