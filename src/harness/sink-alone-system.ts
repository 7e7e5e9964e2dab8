import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import { pino } from 'pino';
import type { SinkRecord } from '../codec/event.js';
import { resolveRetryOptions } from '../config/retry-options-schema.js';
import { deliverBatch } from '../delivery/deliver-batch.js';
import { deadLetterRetry, type OneThreadPath, runEventPath } from '../engine/event-path.js';
import { wallClockMs } from '../queue/record-codec.js';
import { createSink } from '../sinks/create-sink.js';
import type { Sink } from '../sinks/sink.js';
import { loadTransform } from '../transforms/transform.js';
import type { SystemResult } from './bench-report.js';
import { openFeed } from './event-feed.js';
import { FILTERED_MARK } from './ledger-transform.js';
import { benchMaker } from './load-generator.js';
import { RunSampler } from './run-sampler.js';
import { benchSinkSpec, type RunInstruments, type RunSettings } from './run-settings.js';
import { systemResult } from './systems.js';

/** Events transformed up front; their records are written again and again under new ids. */
const SAMPLE_EVENTS = 2000;
const DEFAULT_BATCH = 1000;

/** A sink that keeps what it is given: the transform's records, collected once before the run. */
function collector(into: SinkRecord[]): Sink {
  return {
    idempotent: false,
    open: async () => undefined,
    write: async (records) => {
      into.push(...records);
      return undefined;
    },
    close: async () => undefined,
  };
}

/**
 * The records the run's transform makes of a sample of its events, transformed once here so that
 * the run itself pays for writing only. Events the transform filters out or dead-letters leave no
 * record.
 */
async function transformedSample(settings: RunSettings): Promise<SinkRecord[]> {
  const { scenario } = settings;
  const plan = { raw: scenario.raw };
  const make = scenario.feed ? await openFeed(scenario.feed) : benchMaker(plan);
  const events = Array.from({ length: SAMPLE_EVENTS }, (_, seq) => make(seq, `sample-${seq}`, wallClockMs()));
  const records: SinkRecord[] = [];
  const retry = scenario.pipeline?.retry ?? resolveRetryOptions(scenario.retry);
  const path: OneThreadPath = {
    stage: { transform: await loadTransform(scenario.transform.href, { threadId }), textSink: false },
    sink: collector(records),
    deadLetter: collector([]),
    retry,
    lettersRetry: deadLetterRetry(retry),
    log: pino({ enabled: false }),
  };
  await runEventPath(events, path);
  return records.filter((record) => record.source !== FILTERED_MARK);
}

/**
 * The sink alone: records already transformed, written by one thread in batches of the pipeline's
 * size, each batch as soon as the previous one is acknowledged — as fast as the sink accepts them,
 * which is the sink's own ceiling from one writer. Every record gets the run's next id, so the
 * accounting by id holds as for the other systems; latency is one batch's write.
 */
export async function runSinkAlone(
  settings: RunSettings,
  instruments: RunInstruments,
): Promise<SystemResult> {
  const { scenario } = settings;
  const sample = await transformedSample(settings);
  const batchSize = settings.batchMaxRecords ?? scenario.pipeline?.batch.maxRecords ?? DEFAULT_BATCH;
  const retry = scenario.pipeline?.retry ?? resolveRetryOptions(scenario.retry);
  const sink = await createSink(benchSinkSpec(settings, instruments, `sink_${process.pid}_${Date.now()}`), {
    threadId,
    role: 'sink',
    ordering: scenario.pipeline?.ordering ?? 'none',
  });
  await sink.open();
  const sampler = new RunSampler('sink-alone', settings, instruments, () => 0);
  const prefix = instruments.ledger.prefix;
  const limit = settings.maxEvents;
  let written = 0;
  const started = performance.now();
  instruments.beginLoad(settings.durationMs);
  try {
    while (sample.length > 0 && performance.now() - started < settings.durationMs && written < limit) {
      const now = wallClockMs();
      const count = Math.min(batchSize, limit - written);
      const batch = new Array<SinkRecord>(count);
      for (let i = 0; i < count; i++) {
        const seq = written + i;
        const record = sample[seq % sample.length]!;
        batch[i] = {
          id: `${prefix}${seq}`,
          key: record.key,
          source: record.source,
          ts: now,
          payload: record.payload,
          payloadJson: record.payloadJson,
        };
      }
      await deliverBatch(sink, batch, retry);
      written += count;
      // A sink that writes synchronously resolves without leaving the microtask queue: let the
      // sampler's timer run.
      await yieldToLoop();
    }
  } finally {
    await sink.close();
  }
  const seconds = (performance.now() - started) / 1000;
  sampler.stop();
  return systemResult('sink-alone', settings, instruments, [[0, written]], seconds, sampler, { workers: 1 });
}
