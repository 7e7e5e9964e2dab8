import { z } from 'zod';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { moduleReference, must, strictObject } from './option-schema.js';
import { markResolved } from './resolved-marker.js';
import { natsJetStreamSinkSchema } from './sinks/nats-jetstream-sink-schema.js';
import { ndjsonSinkSchema } from './sinks/ndjson-sink-schema.js';
import { postgresSinkSchema } from './sinks/postgres-sink-schema.js';
import { redisStreamsSinkSchema } from './sinks/redis-streams-sink-schema.js';
import { sqliteSinkSchema } from './sinks/sqlite-sink-schema.js';

const SINK_TYPES = ['null', 'ndjson', 'sqlite', 'postgres', 'nats-jetstream', 'redis-streams'] as const;
const TYPE = `one of ${SINK_TYPES.join(', ')}`;

/** A user module whose default export builds the sink; its options are the module's to check. */
const moduleSinkSchema = strictObject(
  {
    // No type: that is how the spec is told from a built-in one.
    type: z.undefined().optional(),
    module: moduleReference(),
    options: z.unknown().optional(),
  },
  'an object',
  ['module', 'options'],
).transform(
  ({ module, options }): ResolvedSinkSpec => (options === undefined ? { module } : { module, options }),
);

const builtInOrModule = z.discriminatedUnion(
  'type',
  [
    strictObject({ type: z.literal('null') }),
    ndjsonSinkSchema,
    sqliteSinkSchema,
    postgresSinkSchema,
    natsJetStreamSinkSchema,
    redisStreamsSinkSchema,
    moduleSinkSchema,
  ],
  { error: `must be ${TYPE}` },
);

/** A sink spec, validated with every option of its type and every default filled in. */
export const sinkSpecSchema = z
  .looseObject({}, must('a sink spec object'))
  // Neither a type nor a module: say which types there are rather than that a module is missing.
  .refine((spec) => spec.type !== undefined || spec.module !== undefined, {
    path: ['type'],
    error: `must be ${TYPE}`,
  })
  .pipe(builtInOrModule)
  .transform((spec): ResolvedSinkSpec => markResolved('sink', spec));
