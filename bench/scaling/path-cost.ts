/**
 * What the engine's path costs per event in one thread, with no other thread to compete with:
 * the bytes scenario's NDJSON lines encoded into a ring, claimed, decoded, parsed, validated,
 * enriched and serialised, beside seed-port's path for the same lines (parse, validate, enrich,
 * serialise). The difference is the engine's own work per event — the copy through shared memory
 * that a multi-threaded engine pays and a single thread does not. `sluice bench` reports the same
 * engine using more CPU per event than this, on two contended cores; that excess is the cost of
 * running five threads on two cores, not of the path itself.
 *
 *   npm run bench:path [-- --rounds 5 --batches 1500]
 *
 * Process CPU time (user + system) per event; rounds alternate engine path, seed-port path and
 * building the lines alone (the load generator's share, in both), and the figures are medians.
 */
import { DEFAULT_MAX_DEPTH, decodeEvent, LINE_FIELDS } from '../../src/codec/decode-event.js';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { benchLine } from '../../src/harness/bench-event.js';
import enrich, { validate } from '../../src/harness/scenarios/transforms/parse-validate.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { QueueProducer } from '../../src/queue/producer.js';
import { payloadText, readRecord } from '../../src/queue/record-codec.js';
import { RingConsumer } from '../../src/queue/ring-consumer.js';
import { forEachRecord } from '../../src/queue/ring-reader.js';
import { benchEnv, flag, median } from '../lib/env.js';

const BATCH = 1000;
const rounds = Number(flag('rounds') ?? 5);
const batches = Number(flag('batches') ?? 1500);

const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4 * 1024 * 1024 }));
const producer = new QueueProducer(queue);
const consumer = new RingConsumer(queue.rings[0]!);
const ring = queue.rings[0]!;
let sink = 0;
let seq = 0;

function lines(): string[] {
  const out = new Array<string>(BATCH);
  for (let i = 0; i < BATCH; i++, seq++) out[i] = benchLine(`path-${seq}`, seq, 1_732_800_000_000 + seq);
  return out;
}

const PATHS: Record<string, () => void> = {
  'build lines only': () => {
    sink += lines().length;
  },
  'seed-port path': () => {
    for (const line of lines()) {
      const event = decodeEvent(LINE_FIELDS, line, DEFAULT_MAX_DEPTH);
      if (validate(event) === true) sink += (enrich(event).payload as string).length;
    }
  },
  'engine path (through the ring)': () => {
    producer.pushRawMany(lines());
    const range = consumer.claim(BATCH, Number.MAX_SAFE_INTEGER);
    if (range === null || range.records !== BATCH) throw new Error('the batch did not come back whole');
    const offsets: number[] = [];
    forEachRecord(ring, range.start, range.end, (at) => offsets.push(at));
    for (const at of offsets) {
      const view = readRecord(ring, at);
      const event = decodeEvent(view, payloadText(ring, view), DEFAULT_MAX_DEPTH);
      if (validate(event) === true) sink += (enrich(event).payload as string).length;
    }
    consumer.release(range.end, range.records);
  },
};

function cpuMicrosPerEvent(path: () => void): number {
  const before = process.cpuUsage();
  for (let b = 0; b < batches; b++) path();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / (batches * BATCH);
}

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(PATHS).map((name) => [name, []]));
for (const path of Object.values(PATHS)) for (let w = 0; w < 200; w++) path(); // warm up, optimise
for (let r = 0; r < rounds; r++) {
  for (const [name, path] of Object.entries(PATHS)) samples[name]!.push(cpuMicrosPerEvent(path));
}

const env = benchEnv();
console.log(
  `Node ${env.node}, ${env.cpus} CPUs, commit ${env.commit}; one thread, ${rounds} rounds × ${batches} batches of ${BATCH}`,
);
const seed = median(samples['seed-port path']!);
const engine = median(samples['engine path (through the ring)']!);
console.table(
  Object.entries(samples).map(([name, values]) => ({
    path: name,
    'CPU µs/event (median)': median(values).toFixed(3),
    range: `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`,
  })),
);
console.log(
  `engine path − seed-port path: ${(engine - seed).toFixed(3)} µs/event (${(engine / seed).toFixed(2)}×)`,
);
if (sink < 0) console.log(sink);
