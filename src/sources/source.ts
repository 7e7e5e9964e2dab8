import type { Pipeline } from '../engine/pipeline.js';

/** What a source may call: the pipeline's public push API and its logger, nothing else. */
export type SourceTarget = Pick<Pipeline, 'push' | 'pushMany' | 'pushRaw' | 'pushRawMany' | 'logger'>;

/** Something that produces events into a pipeline until it is exhausted or stopped. */
export interface Source {
  /** Pushes into `target` until exhausted (resolves) or `signal` aborts (resolves soon after); rejects on a read error. */
  start(target: SourceTarget, signal: AbortSignal): Promise<void>;
  /** Stops pushing: resolves once no push is in flight, so everything pushed before is accepted or refused. */
  stop(): Promise<void>;
}
