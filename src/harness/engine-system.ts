import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_WORKER_OPTIONS, type PipelineOptions } from '../config/pipeline-options.js';
import { DEFAULT_ROUTE_NAME } from '../config/route-options.js';
import { createPipeline, type Pipeline } from '../engine/pipeline.js';
import { createMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import { DEFAULT_QUEUE_OPTIONS } from '../queue/queue-options.js';
import type { SystemResult } from './bench-report.js';
import { engineStages } from './engine-stages.js';
import type { LoadOutcome, LoadPlan } from './load-generator.js';
import { RunSampler } from './run-sampler.js';
import { benchDeadLetterSpec, benchSinkSpec, type RunInstruments, type RunSettings } from './run-settings.js';
import { blocksOf, loadPlans, systemResult } from './systems.js';

const PRODUCER = new URL('../../workers/bench-producer.js', import.meta.url);

function producerThread(
  handle: unknown,
  plan: LoadPlan,
  youngGenerationMb: number,
  started: (threadId: number) => void,
): Promise<LoadOutcome> {
  return new Promise((resolve, reject) => {
    // Producer threads allocate per event like the engine's workers and get the same young
    // generation, so a run's memory reflects one setting (0 = V8's default).
    const worker = new Worker(PRODUCER, {
      workerData: { handle, plan },
      resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb },
    });
    started(worker.threadId);
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** The engine's options: a built-in scenario's, or the user's pipeline with the bench's sinks around its own. */
function engineOptions(
  settings: RunSettings,
  instruments: RunInstruments,
  youngGenerationMb: number,
): PipelineOptions {
  const { scenario } = settings;
  const sink = benchSinkSpec(settings, instruments, `engine_${process.pid}_${Date.now()}`);
  const deadLetter = benchDeadLetterSpec(instruments, settings);
  // Retries are the flaky-sink scenario's point: a warning for each would drown the progress line.
  const log = { level: 'error', pretty: process.stderr.isTTY === true } as const;
  const metrics = { enabled: settings.metrics ?? true };
  const configured = scenario.pipeline;
  if (configured) {
    const entries = Object.entries(configured.routes);
    // The config's one route keeps its name and rule, so a transform that names it still reaches it;
    // several keep theirs too, each through a ledger of its own (accounted across them by id).
    const [name, route] = entries[0]!;
    const destination: Pick<PipelineOptions, 'sink' | 'routes' | 'defaultRoute'> =
      entries.length > 1
        ? {
            routes: Object.fromEntries(
              entries.map(([routeName, r]) => [
                routeName,
                {
                  sink: benchSinkSpec(
                    settings,
                    instruments,
                    `engine_${routeName}_${process.pid}_${Date.now()}`,
                    {
                      name: routeName,
                      sink: r.sink,
                    },
                  ),
                  ...(r.deadLetter
                    ? { deadLetter: benchDeadLetterSpec(instruments, settings, r.deadLetter) }
                    : {}),
                  retry: r.retry,
                  ...(r.when ? { when: r.when } : {}),
                },
              ]),
            ),
            ...(configured.defaultRoute !== undefined ? { defaultRoute: configured.defaultRoute } : {}),
          }
        : name === DEFAULT_ROUTE_NAME
          ? { sink }
          : {
              routes: {
                [name]: { sink, retry: configured.retry, ...(route.when ? { when: route.when } : {}) },
              },
              ...(configured.defaultRoute !== undefined ? { defaultRoute: configured.defaultRoute } : {}),
            };
    return {
      queue: configured.queue,
      workers: {
        ...configured.workers,
        min: settings.workers,
        max: settings.workers,
        maxYoungGenerationSizeMb: youngGenerationMb,
      },
      batch:
        settings.batchMaxRecords === undefined
          ? configured.batch
          : { maxRecords: settings.batchMaxRecords, maxBytes: configured.batch.maxBytes },
      transform: scenario.transform,
      ...destination,
      deadLetter,
      retry: configured.retry,
      ordering: configured.ordering,
      maxNestingDepth: configured.maxNestingDepth,
      log,
      metrics,
    };
  }
  return {
    // 4 MiB holds about as many of these events as seed-port's queue (16 384): both bound the same backlog.
    queue: { capacityBytes: 4 * 1024 * 1024 },
    workers: {
      min: settings.workers,
      max: settings.workers,
      maxYoungGenerationSizeMb: youngGenerationMb,
    },
    transform: scenario.transform,
    sink,
    deadLetter,
    log,
    metrics,
    ...(settings.batchMaxRecords !== undefined ? { batch: { maxRecords: settings.batchMaxRecords } } : {}),
    ...(scenario.retry ? { retry: scenario.retry } : {}),
  };
}

/**
 * With `diskFsync` (the engine-disk system): the same queue on disk, in a fresh directory. The
 * backlog beyond the ring is bounded at four rings' worth, so that a closed loop measures the
 * steady state — producers paced by the sink — rather than how fast the disk fills.
 */
function onDisk(options: PipelineOptions, settings: RunSettings): { options: PipelineOptions; dir?: string } {
  if (!settings.onDisk) return { options };
  const dir = mkdtempSync(join(settings.workDir, 'disk-queue-'));
  const capacityBytes = options.queue?.capacityBytes ?? DEFAULT_QUEUE_OPTIONS.capacityBytes;
  return {
    dir,
    options: {
      ...options,
      queue: {
        ...options.queue,
        durability: 'disk',
        path: join(dir, 'q'),
        fsync: settings.diskFsync ?? 'group',
        maxDiskBytes: Math.max(64 * 1024, 4 * capacityBytes),
      },
    },
  };
}

/** Sluice itself: producer threads push into the rings, piscina workers transform and write. */
export async function runEngine(
  settings: RunSettings,
  instruments: RunInstruments,
  name = 'engine',
): Promise<SystemResult> {
  const youngGenerationMb =
    settings.youngGenerationMb ??
    settings.scenario.pipeline?.workers.maxYoungGenerationSizeMb ??
    DEFAULT_WORKER_OPTIONS.maxYoungGenerationSizeMb;
  const disk = onDisk(engineOptions(settings, instruments, youngGenerationMb), settings);
  const pipeline = await createPipeline(disk.options);
  const server = settings.serve ? await serve(pipeline, settings.serve) : undefined;
  const sampler = new RunSampler(name, settings, instruments, () => pipeline.stats().queue.depthRecords);
  const started = performance.now();
  const plans = loadPlans(settings, instruments, settings.producers);
  instruments.beginLoad(settings.durationMs);
  const producers: number[] = [];
  const outcomes = await Promise.all(
    plans.map((plan) =>
      producerThread(pipeline.producerHandle, plan, youngGenerationMb, (id) => producers.push(id)),
    ),
  );
  await pipeline.drained();
  const seconds = (performance.now() - started) / 1000;
  const stats = pipeline.stats();
  const live = pipeline.liveStats();
  const stages = engineStages({
    busySeconds: live.busySeconds,
    sinkWriteSeconds: live.sinkWriteSeconds,
    batches: stats.batches,
    meanBatchRecords: stats.meanBatchRecords,
    meanLatencyMs: stats.meanLatencyMs,
    ...(live.stages ? { stages: live.stages } : {}),
  });
  sampler.stop();
  await pipeline.close();
  await server?.close();
  if (disk.dir !== undefined) rmSync(disk.dir, { recursive: true, force: true });
  const written = stats.written + stats.deadLettered;
  return systemResult(name, settings, instruments, blocksOf(plans, outcomes), seconds, sampler, {
    ...(stats.disk && written > 0
      ? {
          disk: {
            fsync: settings.diskFsync ?? 'group',
            fsyncsPerSecond: stats.disk.fsyncs / seconds,
            bytesWrittenPerEvent: stats.disk.bytesAppended / written,
          },
        }
      : {}),
    producerBlockedMs: stats.queue.producerBlockedMs,
    maxQueueDepth: Math.max(sampler.maxDepth, 0),
    ...(stages ? { stages } : {}),
    threads: [
      ...instruments.workerThreadIds().map((threadId, k) => ({ role: `worker-${k + 1}`, threadId })),
      ...producers.map((threadId, k) => ({ role: `producer-${k + 1}`, threadId })),
    ],
  });
}

async function serve(pipeline: Pipeline, hostPort: string): Promise<MetricsServer> {
  const at = hostPort.lastIndexOf(':');
  const server = await createMetricsServer(pipeline, {
    host: hostPort.slice(0, at),
    port: Number(hostPort.slice(at + 1)),
  });
  console.error(`live dashboard: ${server.url}/  metrics: ${server.url}/metrics`);
  return server;
}
