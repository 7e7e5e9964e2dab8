import { z } from 'zod';
import { DEFAULT_NDJSON_SINK_OPTIONS, type ResolvedNdjsonSinkOptions } from '../../sinks/ndjson-sink.js';
import { nonEmptyString, oneOf, strictObject } from '../option-schema.js';

export const ndjsonSinkSchema = strictObject({
  type: z.literal('ndjson'),
  path: nonEmptyString('a file path'),
  fsync: oneOf(['batch', 'never']).default(DEFAULT_NDJSON_SINK_OPTIONS.fsync),
}) satisfies z.ZodType<{ type: 'ndjson' } & ResolvedNdjsonSinkOptions>;
