import type { Reply } from './http-reply.js';
import type { SourceTarget } from './source.js';
import { unlessAborted } from './unless-aborted.js';

/**
 * For `?ack=sink`: resolves true once what this source pushed is written or dead-lettered —
 * settled(), since drained() would also wait for producer threads' pushes, which the client did not
 * send — or false as soon as `request` aborts (the source stops, or the client went away).
 */
export async function whenWritten(target: SourceTarget, request: AbortSignal): Promise<boolean> {
  return (await unlessAborted(target.settled(), request)) !== undefined;
}

/** The answer when the source stops while a request's accepted events wait for the sink. */
export function stoppedBeforeWritten(accepted: number): Reply {
  return {
    status: 503,
    body: {
      error: 'shutting down',
      accepted,
      note: 'the accepted events stay accepted; they may or may not be written before the pipeline closes',
    },
  };
}
