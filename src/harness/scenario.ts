import type { ResolvedPipelineOptions } from '../config/pipeline-options.js';
import type { RetryOptions } from '../delivery/retry-options.js';
import type { EventFeedSpec } from './event-feed.js';

/** What a benchmark scenario fixes: the workload and the sink's behaviour. */
export interface Scenario {
  name: string;
  description: string;
  /** Transform module, run by every system (workers import it; seed-port imports it in-thread). */
  transform: URL;
  /** Events arrive as NDJSON lines pushed with pushRaw (parsed by the transform side). */
  raw: boolean;
  /** The sink when --sink is not given. */
  sink: 'null' | 'sqlite' | 'postgres';
  /** Sink behaviour layered over it (latency, failures, a fixed cost per batch). */
  flaky?: { failRate: number; minDelayMs: number; maxDelayMs: number };
  msPerBatch?: number;
  /** Open-loop rate = this many times what the sink can take (overload). */
  overloadFactor?: number;
  retry?: RetryOptions;
  /** Not an engine-vs-baselines run: the ring transport figure. */
  transport?: boolean;
  /** Where events come from; omitted: the built-in events (bench-event.ts). */
  feed?: EventFeedSpec;
  /**
   * A user's pipeline (`sluice bench --config`), as `sluice run` resolves it: its queue, batch,
   * retry, ordering, sink and dead-letter sink are what the systems run; `transform` above wraps
   * its transform (ledger-transform.ts).
   */
  pipeline?: ResolvedPipelineOptions;
}
