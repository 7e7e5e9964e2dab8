import { z } from 'zod';
import {
  DEFAULT_NATS_JETSTREAM_SINK_OPTIONS,
  type ResolvedNatsJetStreamSinkOptions,
} from '../../sinks/nats-jetstream-sink.js';
import { must, positiveInteger, strictObject } from '../option-schema.js';

const d = DEFAULT_NATS_JETSTREAM_SINK_OPTIONS;
/** Dot-separated tokens, none empty, with no whitespace and no wildcard. */
const SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
/** JetStream stream names may not hold whitespace, dots, wildcards or path separators. */
const STREAM_NAME = /^[^\s.*>/\\]+$/;

const SERVERS = must('a server URL or a non-empty list of them');
const SUBJECT_ERROR = must('a NATS subject without wildcards or whitespace');
const STREAM_ERROR = must('a JetStream stream name (no whitespace, ".", "*", ">", "/" or "\\")');
const ms = () => positiveInteger('a positive whole number of ms');

export const natsJetStreamSinkSchema = strictObject({
  type: z.literal('nats-jetstream'),
  servers: z
    .union(
      [
        z.string(SERVERS).min(1, SERVERS),
        z.array(z.string(SERVERS).min(1, SERVERS), SERVERS).min(1, SERVERS),
      ],
      SERVERS,
    )
    .default(d.servers),
  subject: z.string(SUBJECT_ERROR).regex(SUBJECT, SUBJECT_ERROR),
  stream: z.string(STREAM_ERROR).regex(STREAM_NAME, STREAM_ERROR).optional(),
  duplicateWindowMs: ms().default(d.duplicateWindowMs),
  timeoutMs: ms().default(d.timeoutMs),
}).transform(
  ({ servers, stream, ...rest }): { type: 'nats-jetstream' } & ResolvedNatsJetStreamSinkOptions => ({
    ...rest,
    servers: Array.isArray(servers) ? servers : [servers],
    stream,
  }),
);
