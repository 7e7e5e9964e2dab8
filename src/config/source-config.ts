import { z } from 'zod';
import { DEFAULT_HTTP_SOURCE_OPTIONS, type HttpSourceOptions } from '../sources/http-source.js';
import type { NatsJetStreamSourceOptions } from '../sources/nats-jetstream-source.js';
import type { NdjsonSourceOptions } from '../sources/ndjson-source.js';
import type { RedisStreamsSourceOptions } from '../sources/redis-streams-source.js';
import type { SyntheticSourceOptions } from '../sources/synthetic-source.js';
import { must, nonEmptyString, orList, port, positiveInteger, strictObject } from './option-schema.js';

/** A NATS JetStream stream read through a durable pull consumer (see NatsJetStreamSource). */
export type NatsJetStreamSourceConfig = { type: 'nats-jetstream' } & NatsJetStreamSourceOptions;

/** A Redis stream read through a consumer group (see RedisStreamsSource). */
export type RedisStreamsSourceConfig = { type: 'redis-streams' } & RedisStreamsSourceOptions;

/** Which source `sluice run` reads from. */
export type SourceConfig =
  | ({ type: 'synthetic' } & SyntheticSourceOptions)
  | ({ type: 'ndjson' } & Omit<NdjsonSourceOptions, 'stdin'>)
  | ({ type: 'http' } & HttpSourceOptions & { path: string })
  | NatsJetStreamSourceConfig
  | RedisStreamsSourceConfig;

const RATE = must('a positive number or "max"');
const syntheticSource = strictObject({
  type: z.literal('synthetic'),
  rate: z.union([z.literal('max', RATE), z.number(RATE).positive(RATE)], RATE).optional(),
  events: positiveInteger().optional(),
  keys: positiveInteger().optional(),
});

const ndjsonSource = strictObject({
  type: z.literal('ndjson'),
  path: nonEmptyString('a file path or "-" for stdin'),
  maxLineBytes: positiveInteger().optional(),
});

const httpSource = strictObject({
  type: z.literal('http'),
  host: nonEmptyString('a host name or address').optional(),
  port: port().optional(),
  // The URL path, not a file: it is not resolved against the config's directory.
  path: z
    .string(must('a URL path starting with "/"'))
    .startsWith('/', must('a URL path starting with "/"'))
    .default(DEFAULT_HTTP_SOURCE_OPTIONS.path),
  token: nonEmptyString().optional(),
  maxBodyBytes: positiveInteger().optional(),
  maxInFlightBytes: positiveInteger().optional(),
  fullWaitMs: z
    .int(must('an integer of milliseconds ≥ 0'))
    .min(0, must('an integer of milliseconds ≥ 0'))
    .optional(),
  bodyIdleMs: positiveInteger('a positive integer of milliseconds').optional(),
});

const SERVERS = must('a server URL or a non-empty array of them');
const natsJetStreamSource = strictObject({
  type: z.literal('nats-jetstream'),
  servers: z
    .union(
      [z.string(SERVERS).min(1, SERVERS), z.array(nonEmptyString('a server URL'), SERVERS).min(1, SERVERS)],
      SERVERS,
    )
    .optional(),
  stream: nonEmptyString('a stream name'),
  subjects: z.array(nonEmptyString('a subject'), must('an array of subjects')).optional(),
  durable: nonEmptyString('a consumer name'),
  filterSubject: nonEmptyString('a subject').optional(),
  batch: positiveInteger().optional(),
  ackWaitMs: positiveInteger('a positive integer of milliseconds').optional(),
  maxAckPending: positiveInteger().optional(),
});

const redisStreamsSource = strictObject({
  type: z.literal('redis-streams'),
  url: nonEmptyString('a Redis URL').optional(),
  stream: nonEmptyString('a stream key'),
  group: nonEmptyString('a consumer group name'),
  consumer: nonEmptyString('a consumer name').optional(),
  batch: positiveInteger().optional(),
  blockMs: positiveInteger('a positive integer of milliseconds').optional(),
  claimIdleMs: positiveInteger('a positive integer of milliseconds').optional(),
  field: nonEmptyString('an entry field name').optional(),
  maxPending: positiveInteger().optional(),
});

const SOURCES = [syntheticSource, ndjsonSource, httpSource, natsJetStreamSource, redisStreamsSource] as const;
const SOURCE_TYPES = SOURCES.map((source) => source.shape.type.value);

/** Which source `sluice run` reads from, every option checked. */
export const sourceSchema = z.discriminatedUnion('type', SOURCES, {
  // A type no variant has is reported at `source.type`; a source that is no object, at `source`.
  error: (issue) =>
    issue.code === 'invalid_union'
      ? `must be ${orList(SOURCE_TYPES.map((type) => JSON.stringify(type)))}`
      : `must be an object with a type (${orList(SOURCE_TYPES)})`,
}) satisfies z.ZodType<SourceConfig>;
