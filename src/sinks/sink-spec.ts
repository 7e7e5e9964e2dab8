import { InvalidOptionError } from '../errors.js';
import { type NatsJetStreamSinkOptions, resolveNatsJetStreamSinkOptions } from './nats-jetstream-sink.js';
import type { NdjsonSinkOptions } from './ndjson-sink.js';
import { type PostgresSinkOptions, resolvePostgresSinkOptions } from './postgres-sink.js';
import { type RedisStreamsSinkOptions, resolveRedisStreamsSinkOptions } from './redis-streams-sink.js';
import type { SqliteSinkOptions } from './sqlite-sink.js';

/** Which sink a worker opens: a built-in by type, or a user module whose default export builds one. */
export type SinkSpec =
  | { type: 'null' }
  | ({ type: 'ndjson' } & NdjsonSinkOptions)
  | ({ type: 'sqlite' } & SqliteSinkOptions)
  | ({ type: 'postgres' } & PostgresSinkOptions)
  | ({ type: 'nats-jetstream' } & NatsJetStreamSinkOptions)
  | ({ type: 'redis-streams' } & RedisStreamsSinkOptions)
  | { module: string | URL; options?: unknown };

/** A sink spec as it crosses to worker threads: URLs as strings. */
export type PortableSinkSpec =
  | Exclude<SinkSpec, { module: string | URL }>
  | { module: string; options?: unknown };

const TYPES = ['null', 'ndjson', 'sqlite', 'postgres', 'nats-jetstream', 'redis-streams'];

/** Validates a sink spec up front, naming the field; URLs become strings for postMessage. */
export function resolveSinkSpec(spec: SinkSpec, field: string): PortableSinkSpec {
  if (spec === null || typeof spec !== 'object')
    throw new InvalidOptionError(field, 'a sink spec object', spec);
  if ('module' in spec) {
    const module = spec.module instanceof URL ? spec.module.href : spec.module;
    if (typeof module !== 'string' || module.length === 0) {
      throw new InvalidOptionError(`${field}.module`, 'a module URL or path', spec.module);
    }
    return { module, options: spec.options };
  }
  if (!TYPES.includes((spec as { type: string }).type)) {
    throw new InvalidOptionError(
      `${field}.type`,
      `one of ${TYPES.join(', ')}`,
      (spec as { type: unknown }).type,
    );
  }
  if (
    (spec.type === 'ndjson' || spec.type === 'sqlite') &&
    (typeof spec.path !== 'string' || spec.path === '')
  ) {
    throw new InvalidOptionError(`${field}.path`, 'a file path', spec.path);
  }
  if (spec.type === 'postgres') resolvePostgresSinkOptions(spec, field);
  if (spec.type === 'nats-jetstream') resolveNatsJetStreamSinkOptions(spec, field);
  if (spec.type === 'redis-streams') resolveRedisStreamsSinkOptions(spec, field);
  return spec;
}

/** A sink as messages and logs name it: its type (with its file, if it has one), or `module <path>`. */
export function sinkName(spec: PortableSinkSpec): string {
  if ('module' in spec) return `module ${spec.module}`;
  return 'path' in spec ? `${spec.type} at ${spec.path}` : spec.type;
}
