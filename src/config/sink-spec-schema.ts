import { z } from 'zod';
import { markResolved } from '../resolved-marker.js';
import type { ResolvedSinkSpec, ResolvedSinkSpecOf, SinkSpec } from '../sinks/sink-spec.js';
import { boolean, moduleReference, must, strictObject } from './option-schema.js';
import { resolveOptions } from './resolve-options.js';
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
    writesText: boolean().optional(),
  },
  'an object',
  ['module', 'options', 'writesText'],
).transform(({ module, options, writesText }): ResolvedSinkSpec => {
  const spec: ResolvedSinkSpec = options === undefined ? { module } : { module, options };
  if (writesText !== undefined) spec.writesText = writesText;
  return spec;
});

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

/**
 * Validates a sink spec up front — every option of its type, every problem reported at once,
 * fields named under `field` — and fills in its defaults. Main thread only: worker threads
 * receive the result.
 */
export function resolveSinkSpec<Spec extends SinkSpec>(spec: Spec, field = 'sink'): ResolvedSinkSpecOf<Spec> {
  return resolveOptions(sinkSpecSchema, spec, 'sink', field) as ResolvedSinkSpecOf<Spec>;
}
