import type { Pipeline } from '../engine/pipeline.js';

/**
 * What a source may call: the pipeline's public push API, its logger, and — for sources that answer
 * their clients (HTTP: 429 when full, ?ack=sink) — its statistics, options and drained().
 */
export type SourceTarget = Pick<
  Pipeline,
  'push' | 'pushMany' | 'pushRaw' | 'pushRawMany' | 'logger' | 'stats' | 'drained' | 'options'
>;

/** Something that produces events into a pipeline until it is exhausted or stopped. */
export interface Source {
  /** Pushes into `target` until exhausted (resolves) or `signal` aborts (resolves soon after); rejects on a read error. */
  start(target: SourceTarget, signal: AbortSignal): Promise<void>;
  /** Stops pushing: resolves once no push is in flight, so everything pushed before is accepted or refused. */
  stop(): Promise<void>;
}
