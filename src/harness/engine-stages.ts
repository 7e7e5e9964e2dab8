import type { LiveStats } from '../metrics/live-stats.js';

/**
 * Where an event's time goes in the engine, read once at the end of a run. The engine counts each
 * stage per event (LiveStats.stages: in the ring, decode + transform, sink write, release wait);
 * without those counters (an engine from before them, or metrics off) the stages are derived from
 * the per-batch totals, as below:
 *
 *   push ─ queue wait ─▶ worker takes the batch ─ decode + transform ─▶ sink write ─▶ ack ─ release wait ─▶ ring space freed
 *
 * - decode + transform: worker time on batches outside sink writes (dead letters included), per batch;
 * - sink write: time inside sink writes, retries included, per batch;
 * - queue wait: the engine's mean push → ack latency less the two above — what is left is the time
 *   an event waited in the ring before a worker took its batch;
 * - release wait (ack → ring space released in order): only from the engine's stage counters.
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
  /** Acknowledged, waiting for earlier batches before the ring space is released: measured only. */
  releaseWaitMs?: number;
  /** The stages are the engine's per-event counters (true), or derived from per-batch totals. */
  measured: boolean;
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
  /** The engine's per-event stage counters, when it has them. */
  stages?: LiveStats['stages'];
}

/** The stages, or undefined when the engine recorded no batch (or its metrics were off). */
export function engineStages(c: EngineCounters): EngineStages | undefined {
  if (c.batches === 0 || c.busySeconds <= 0) return undefined;
  const m = c.stages;
  if (m !== undefined && m.events > 0) {
    const per = (seconds: number) => (seconds * 1000) / m.events;
    const records = c.batches * c.meanBatchRecords;
    return {
      meanLatencyMs: c.meanLatencyMs,
      queueWaitMs: per(m.queueWaitSeconds),
      decodeTransformMs: per(m.decodeTransformSeconds),
      sinkWriteMs: per(m.sinkWriteSeconds),
      releaseWaitMs: per(m.releaseWaitSeconds),
      measured: true,
      batches: c.batches,
      meanBatchRecords: c.meanBatchRecords,
      workerUsPerEvent: {
        decodeTransform: records > 0 ? ((c.busySeconds - c.sinkWriteSeconds) * 1e6) / records : 0,
        sinkWrite: records > 0 ? (c.sinkWriteSeconds * 1e6) / records : 0,
      },
    };
  }
  const sinkWriteMs = (c.sinkWriteSeconds * 1000) / c.batches;
  const decodeTransformMs = Math.max(0, ((c.busySeconds - c.sinkWriteSeconds) * 1000) / c.batches);
  const records = c.batches * c.meanBatchRecords;
  return {
    meanLatencyMs: c.meanLatencyMs,
    queueWaitMs: Math.max(0, c.meanLatencyMs - decodeTransformMs - sinkWriteMs),
    decodeTransformMs,
    sinkWriteMs,
    measured: false,
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
  const parts: [string, number, string][] = [
    ['queue wait', stages.queueWaitMs, '░'],
    ['decode + transform', stages.decodeTransformMs, '▒'],
    ['sink write', stages.sinkWriteMs, '█'],
  ];
  if (stages.releaseWaitMs !== undefined) parts.push(['release wait', stages.releaseWaitMs, '▓']);
  const total = parts.reduce((n, [, ms]) => n + ms, 0);
  if (total <= 0) return '';
  const bar = parts.map(([, ms, glyph]) => glyph.repeat(Math.round((ms / total) * width))).join('');
  const legend = parts.map(([name, ms, glyph]) => `${glyph} ${name} ${ms.toFixed(2)} ms`).join('  ');
  return `${bar}  ${legend}`;
}
