import { InvalidOptionError } from '../errors.js';
import { isResolved } from '../resolved-marker.js';
import type { DiskProducerHandle } from './disk-producer.js';
import { keyHash } from './key-hash.js';
import {
  STAT_BYTES_WRITTEN,
  STAT_DROPPED_NEWEST,
  STAT_DROPPED_OLDEST,
  STAT_PRODUCER_BLOCKED_NS,
  STAT_PRODUCER_WAITS,
  STAT_RECORDS_CLAIMED,
  STAT_RECORDS_RELEASED,
  STAT_RECORDS_WRITTEN,
  STAT_REJECTED,
} from './layout.js';
import type { ResolvedQueueOptions } from './queue-options.js';
import { Ring, type RingHandle } from './ring-buffer.js';

/** Everything a producer thread needs to attach to a queue (structured-clone safe). */
export interface QueueHandle {
  readonly rings: readonly RingHandle[];
  readonly options: ResolvedQueueOptions;
  /** With a disk queue: producer threads push through the main thread's log (see disk-producer.ts). */
  readonly disk?: DiskProducerHandle;
}

/** Lock-free snapshot of one ring's or the whole queue's counters. */
export interface QueueStats {
  /** Records written and not yet released (queued plus in flight). */
  depthRecords: number;
  /** Bytes reserved and not yet released, padding included. */
  depthBytes: number;
  capacityBytes: number;
  recordsWritten: number;
  bytesWritten: number;
  recordsClaimed: number;
  recordsReleased: number;
  droppedNewest: number;
  droppedOldest: number;
  rejected: number;
  producerWaits: number;
  producerBlockedMs: number;
}

/**
 * The bounded queue: `partitions` rings. A key always maps to the same ring; key-less events are
 * spread across rings by each producer.
 */
export class EventQueue {
  readonly rings: readonly Ring[];
  readonly options: ResolvedQueueOptions;

  private constructor(rings: Ring[], options: ResolvedQueueOptions) {
    this.rings = rings;
    this.options = options;
  }

  /**
   * Allocates a queue from the options resolveQueueOptions() (or resolvePipelineOptions()) returned,
   * which were validated there and are not validated again; any other object is refused.
   */
  static create(options: ResolvedQueueOptions): EventQueue {
    if (!isResolved(options, 'queue')) {
      throw new InvalidOptionError('queue', 'the options resolveQueueOptions() returns', options);
    }
    const rings = Array.from({ length: options.partitions }, () => Ring.create(options.capacityBytes));
    return new EventQueue(rings, options);
  }

  /** Attaches to a queue created in another thread. */
  static attach(handle: QueueHandle): EventQueue {
    return new EventQueue(handle.rings.map(Ring.attach), handle.options);
  }

  get handle(): QueueHandle {
    return { rings: this.rings.map((ring) => ring.handle), options: this.options };
  }

  get closed(): boolean {
    return this.rings[0]!.closed;
  }

  /** The partition of a key. */
  partitionOf(key: string): number {
    return this.rings.length === 1 ? 0 : keyHash(key) % this.rings.length;
  }

  /** Closes every ring: producers get ClosedError, waiters wake. */
  close(): void {
    for (const ring of this.rings) ring.close();
  }

  /** Counters summed over all partitions. */
  stats(): QueueStats {
    return sumStats(this.rings.map(ringStats));
  }

  /** Counters of each partition. */
  partitionStats(): QueueStats[] {
    return this.rings.map(ringStats);
  }
}

/** Partitions' counters (all of them, or any subset of the fields) summed, field by field. */
export function sumStats<Stats extends { [K in keyof Stats]: number }>(parts: readonly Stats[]): Stats {
  const total = { ...parts[0]! };
  for (let p = 1; p < parts.length; p++) {
    const part = parts[p]!;
    for (const k of Object.keys(total) as (keyof Stats)[]) (total[k] as number) += part[k];
  }
  return total;
}

/** Reads one ring's counters with atomic loads; no lock, any thread. */
export function ringStats(ring: Ring): QueueStats {
  const s = ring.stats;
  const n = (index: number) => Number(Atomics.load(s, index));
  const written = n(STAT_RECORDS_WRITTEN);
  const released = n(STAT_RECORDS_RELEASED);
  return {
    depthRecords: Math.max(0, written - released),
    depthBytes: ring.usedBytes(),
    capacityBytes: ring.capacity,
    recordsWritten: written,
    bytesWritten: n(STAT_BYTES_WRITTEN),
    recordsClaimed: n(STAT_RECORDS_CLAIMED),
    recordsReleased: released,
    droppedNewest: n(STAT_DROPPED_NEWEST),
    droppedOldest: n(STAT_DROPPED_OLDEST),
    rejected: n(STAT_REJECTED),
    producerWaits: n(STAT_PRODUCER_WAITS),
    producerBlockedMs: n(STAT_PRODUCER_BLOCKED_NS) / 1e6,
  };
}
