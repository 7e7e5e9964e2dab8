import type { Ring } from '../queue/ring-buffer.js';
import type { RingConsumer, RingRange } from '../queue/ring-consumer.js';
import { cursorAfter } from '../queue/ring-reader.js';
import type { RangeRetry } from './batch-task.js';

/** A stretch of one batch that goes to a worker as one task. */
export interface WorkItem {
  start: number;
  end: number;
  records: number;
  kind: 'deliver' | 'dead-letter';
  /** Failed tasks (a worker died, or the task timed out) that held this range, or a range it was split from. */
  crashes: number;
  /** A worker died while running this range: it only runs alone from now on. */
  suspect: boolean;
  /** `pending`: not started; `running`: on a worker; `waiting`: a timer will dispatch it again. */
  state: 'pending' | 'running' | 'waiting';
  /** Times a worker asked for this range to be tried later (sink could not open, dead letters failed). */
  deferrals: number;
  /** Where the sink's retries stood when a worker last handed this range back. */
  retry?: RangeRetry;
  error?: string;
}

/** A claimed range: its ring space is released once it is done and every batch before it is. */
export interface Batch {
  range: RingRange;
  done: boolean;
  /** When it was done (performance.now()): from then it waits for earlier batches to be released. */
  doneAt?: number;
  /**
   * Work left, in ring order. Items run one after the other — a crash splits an item in two
   * halves that run alone — except the halves of a range split around records the dead-letter sink
   * refused, which run side by side when ordering is 'none'.
   */
  items: WorkItem[];
}

/** One ring as the dispatcher consumes it. */
export interface Partition {
  index: number;
  ring: Ring;
  consumer: RingConsumer;
  /** Claimed batches in ring order, done or not. */
  inflight: Batch[];
  /** A wait for the ring's next publication is armed. */
  armed: boolean;
}

/** The one work item of a freshly claimed range: the whole range, to deliver. */
export function wholeRange(range: RingRange): WorkItem {
  return { ...range, kind: 'deliver', crashes: 0, deferrals: 0, suspect: false, state: 'pending' };
}

/** The two halves of a range, by record count, to run one after the other. */
export function splitInHalves(ring: Ring, item: WorkItem, suspect: boolean): [WorkItem, WorkItem] {
  const half = item.records >> 1;
  const mid = cursorAfter(ring, item.start, half);
  const make = (start: number, end: number, records: number): WorkItem => ({
    start,
    end,
    records,
    kind: 'deliver',
    crashes: item.crashes,
    deferrals: 0,
    suspect,
    state: 'pending',
    // What finished routes did is counted for the whole range and cannot be split: the halves
    // write to those routes again (at least once), keeping only the failing routes' retries.
    ...(item.retry ? { retry: { ...item.retry, done: {} } } : {}),
  });
  return [make(item.start, mid, half), make(mid, item.end, item.records - half)];
}
