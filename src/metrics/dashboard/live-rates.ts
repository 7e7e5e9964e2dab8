/**
 * Rates from two /api/stats snapshots, shared by the dashboard (served as built, to the browser)
 * and `sluice top`: pure arithmetic on LiveStats, nothing imported at run time.
 */
import type { LiveStats } from '../live-stats.js';

/** Rates per second between two snapshots of cumulative counters (none across a reset). */
export interface Rates {
  inPerSec: number | undefined;
  outPerSec: number | undefined;
  retriesPerSec: number | undefined;
  deadLetteredPerSec: number | undefined;
  droppedPerSec: number | undefined;
  /** Seconds blocked per second: the share of time producers waited on a full ring, at most 1. */
  blockedShare: number | undefined;
  /** Each route's writes per second, by name (pipelines with several routes). */
  routesPerSec: Record<string, number | undefined>;
  /**
   * Where the events acknowledged between the two snapshots spent their time, mean ms per event:
   * in the ring, decode + transform, sink writes, waiting for earlier batches to be released.
   */
  stagesMs:
    | { queueWait: number; decodeTransform: number; sinkWrite: number; releaseWait: number }
    | undefined;
  /** The disk queue's log, with a disk queue: its fsyncs per second, and how long one took. */
  disk: DiskRates | undefined;
}

export interface DiskRates {
  fsyncsPerSec: number | undefined;
  /**
   * Mean ms per fsync over the fsyncs between the two snapshots; since start when none fell
   * between them (an fsync every `fsyncIntervalMs` may be rarer than the snapshots); none before
   * the first fsync.
   */
  fsyncMs: number | undefined;
  /** Whether fsyncMs covers only the fsyncs between the two snapshots. */
  fsyncMsRecent: boolean;
}

/** A disk queue's rates between two snapshots (none across a counter reset). */
function diskRates(prev: LiveStats | null | undefined, cur: LiveStats, dtS: number): DiskRates | undefined {
  const b = cur.disk;
  if (!b) return undefined;
  const a = prev?.disk;
  const fsyncs = a ? b.fsyncs - a.fsyncs : Number.NaN;
  const seconds = a ? b.fsyncSeconds - a.fsyncSeconds : Number.NaN;
  const recent = fsyncs > 0 && seconds >= 0;
  return {
    fsyncsPerSec: dtS > 0 && fsyncs >= 0 ? fsyncs / dtS : undefined,
    fsyncMs: recent
      ? (seconds * 1000) / fsyncs
      : b.fsyncs > 0
        ? (b.fsyncSeconds * 1000) / b.fsyncs
        : undefined,
    fsyncMsRecent: recent,
  };
}

/** Counters' change per second from `prev` to `cur`; none without `prev`, and none across a counter reset. */
export function ratesBetween(prev: LiveStats | null | undefined, cur: LiveStats): Rates {
  const dtS = prev ? (cur.takenAt - prev.takenAt) / 1000 : 0;
  const rate = (key: keyof LiveStats): number | undefined => {
    if (!prev || dtS <= 0) return undefined;
    const delta = (cur[key] as number) - (prev[key] as number);
    return Number.isFinite(delta) && delta >= 0 ? delta / dtS : undefined;
  };
  const blocked = rate('producerBlockedSeconds');
  const a = prev?.stages;
  const b = cur.stages;
  const events = a && b ? b.events - a.events : 0;
  const per = (
    key: 'queueWaitSeconds' | 'decodeTransformSeconds' | 'sinkWriteSeconds' | 'releaseWaitSeconds',
  ) => Math.max(0, ((b![key] - a![key]) * 1000) / events);
  return {
    stagesMs:
      events > 0
        ? {
            queueWait: per('queueWaitSeconds'),
            decodeTransform: per('decodeTransformSeconds'),
            sinkWrite: per('sinkWriteSeconds'),
            releaseWait: per('releaseWaitSeconds'),
          }
        : undefined,
    disk: diskRates(prev, cur, dtS),
    inPerSec: rate('pushed'),
    outPerSec: rate('written'),
    retriesPerSec: rate('retries'),
    deadLetteredPerSec: rate('deadLettered'),
    droppedPerSec: rate('dropped'),
    blockedShare: blocked === undefined ? undefined : Math.min(1, blocked),
    routesPerSec: Object.fromEntries(
      (cur.routes ?? []).map((route) => {
        const before = prev?.routes?.find((r) => r.name === route.name);
        const delta = before === undefined ? Number.NaN : route.written - before.written;
        return [route.name, dtS > 0 && Number.isFinite(delta) && delta >= 0 ? delta / dtS : undefined];
      }),
    ),
  };
}
