/**
 * A load-generating producer thread for `sluice bench`: pushes its share of the schedule into the
 * pipeline's rings through the public producer API, blocking while they are full.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { SluiceEvent } from '../src/codec/event.js';
import { connectProducer } from '../src/engine/pipeline.js';
import { openFeed } from '../src/harness/event-feed.js';
import { benchMaker, type LoadPlan, runLoadSync } from '../src/harness/load-generator.js';
import type { QueueHandle } from '../src/queue/event-queue.js';

const { handle, plan } = workerData as { handle: QueueHandle; plan: LoadPlan };
const producer = connectProducer(handle);
const make = plan.feed ? await openFeed(plan.feed) : benchMaker(plan);
const outcome = runLoadSync(
  plan,
  (events) =>
    plan.raw ? producer.pushRawMany(events as string[]) : producer.pushMany(events as SluiceEvent[]),
  make,
);
parentPort!.postMessage(outcome);
