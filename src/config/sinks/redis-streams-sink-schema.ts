import { z } from 'zod';
import {
  DEFAULT_REDIS_STREAMS_SINK_OPTIONS,
  type ResolvedRedisStreamsSinkOptions,
} from '../../sinks/redis-streams-sink.js';
import { must, nonEmptyString, positiveInteger, strictObject } from '../option-schema.js';

const d = DEFAULT_REDIS_STREAMS_SINK_OPTIONS;
const URL_ERROR = must('a redis:// or rediss:// URL');

export const redisStreamsSinkSchema = strictObject({
  type: z.literal('redis-streams'),
  url: z
    .string(URL_ERROR)
    .regex(/^rediss?:\/\/./, URL_ERROR)
    .default(d.url),
  stream: nonEmptyString('a non-empty stream key'),
  dedupTtlSeconds: positiveInteger('a positive whole number of s').default(d.dedupTtlSeconds),
  maxLen: positiveInteger('a positive whole number of entries').optional(),
  timeoutMs: positiveInteger('a positive whole number of ms').default(d.timeoutMs),
}).transform(({ maxLen, ...rest }): { type: 'redis-streams' } & ResolvedRedisStreamsSinkOptions => ({
  ...rest,
  maxLen,
}));
