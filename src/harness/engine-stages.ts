/**
 * Where an event's time goes in the engine, from the counters the engine already keeps (the
 * shared-memory metrics block and the main thread's per-batch totals), read once at the end of a
 * run:
 *
 *   push ─ queue wait ─▶ worker takes the batch ─ decode + transform ─▶ sink write ─▶ ack ─ release wait ─▶ ring space freed
 *
 * - decode + transform: worker time on batches outside sink writes (dead letters included), per batch;
 * - sink write: time inside sink writes, retries included, per batch;
 * - queue wait: the engine's mean push → ack latency less the two above — what is left is the time
 *   an event waited in the ring before a worker took its batch;
 * - release wait (ack → ring space released in order) has no counter in the engine yet: not shown.
 *
 * Every event of a batch waits for the whole batch, so a batch's times are each of its events'
 * latency; the means are per batch, which matches the per-event mean when batches are of similar
 * size (under load, when they fill up).
 */
export interface EngineStages {
  /** The engine's own mean push → ack latency, ms (from the push, not the intended send time). */
  meanLatencyMs: number;
  queueWaitMs: number;
  decodeTransformMs: number;
  sinkWriteMs: number;
  /** Batches the workers acknowledged, and their mean size. */
  batches: number;
  meanBatchRecords: number;
  /** Worker CPU-side cost per event, µs: the same times divided by the events instead of the batches. */
  workerUsPerEvent: { decodeTransform: number; sinkWrite: number };
}

/** The engine's counters at the end of a run (LiveStats and PipelineStats fields). */
export interface EngineCounters {
  busySeconds: number;
  sinkWriteSeconds: number;
  batches: number;
  meanBatchRecords: number;
  meanLatencyMs: number;
}

/** The stages, or undefined when the engine recorded no batch (or its metrics were off). */
export function engineStages(c: EngineCounters): EngineStages | undefined {
  if (c.batches === 0 || c.busySeconds <= 0) return undefined;
  const sinkWriteMs = (c.sinkWriteSeconds * 1000) / c.batches;
  const decodeTransformMs = Math.max(0, ((c.busySeconds - c.sinkWriteSeconds) * 1000) / c.batches);
  const records = c.batches * c.meanBatchRecords;
  return {
    meanLatencyMs: c.meanLatencyMs,
    queueWaitMs: Math.max(0, c.meanLatencyMs - decodeTransformMs - sinkWriteMs),
    decodeTransformMs,
    sinkWriteMs,
    batches: c.batches,
    meanBatchRecords: c.meanBatchRecords,
    workerUsPerEvent: {
      decodeTransform: records > 0 ? (decodeTransformMs * c.batches * 1000) / records : 0,
      sinkWrite: records > 0 ? (sinkWriteMs * c.batches * 1000) / records : 0,
    },
  };
}

/** The stages as one line of text: each stage's share of the mean latency as a bar of `width` cells. */
export function stagesBar(stages: EngineStages, width = 40): string {
  const parts = [
    ['queue wait', stages.queueWaitMs, '░'],
    ['decode + transform', stages.decodeTransformMs, '▒'],
    ['sink write', stages.sinkWriteMs, '█'],
  ] as const;
  const total = parts.reduce((n, [, ms]) => n + ms, 0);
  if (total <= 0) return '';
  const bar = parts.map(([, ms, glyph]) => glyph.repeat(Math.round((ms / total) * width))).join('');
  const legend = parts.map(([name, ms, glyph]) => `${glyph} ${name} ${ms.toFixed(2)} ms`).join('  ');
  return `${bar}  ${legend}`;
}
