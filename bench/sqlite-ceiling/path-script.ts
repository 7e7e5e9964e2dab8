/**
 * What the sqlite scenario's event path costs per event in one thread, before any sink and with
 * no other thread to compete with, in CPU µs (process user + system), median of the rounds:
 *
 *   seed-port  the bench event built, its field added (the scenario's transform), its payload
 *              serialised: what seed-port does per event besides the insert
 *   engine     the same, through the ring: pushMany (the payload serialised into shared memory),
 *              claim, each record read and decoded as the worker decodes it, the transform run by
 *              the worker's own event path (transformEvent) — the scenario's transform takes lazy
 *              payloads, so the field is spliced into the payload's text — release
 *   parsed     the ring path with the payload parsed and serialised again, as before lazy payloads
 *              (and as for any transform that does not export lazyPayload)
 *   spliced    the ring path with only the splice: the payload's JSON text read from the ring and
 *              `,"ingestedBy":"sluice"` added before its closing brace — the bound of lazy payloads
 *
 * Prints one JSON line `{ seedPort, engine, parsed, spliced }` (µs per event).
 *
 *   node path-script.js [ROUNDS] [BATCHES]
 */
import { DEFAULT_MAX_DEPTH, decodeFields, withPayload } from '../../src/codec/decode-event.js';
import type { DecodedEvent, SinkRecord } from '../../src/codec/event.js';
import { JsonScanner } from '../../src/codec/json-scan.js';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import type { DeadLetter } from '../../src/delivery/dead-letter.js';
import { eventPayload, type TransformStage, transformEvent } from '../../src/engine/event-path.js';
import { benchEvent } from '../../src/harness/bench-event.js';
import addField, { lazyPayload } from '../../src/harness/scenarios/transforms/add-field.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { QueueProducer } from '../../src/queue/producer.js';
import { payloadText, readRecord } from '../../src/queue/record-codec.js';
import { RingConsumer } from '../../src/queue/ring-consumer.js';
import { forEachRecord } from '../../src/queue/ring-reader.js';
import { median } from '../lib/env.js';

const BATCH = 1000;
const rounds = Number(process.argv[2] ?? 5);
const batches = Number(process.argv[3] ?? 800);

const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 4 * 1024 * 1024 }));
const producer = new QueueProducer(queue);
const ring = queue.rings[0]!;
const consumer = new RingConsumer(ring);
const scanner = new JsonScanner();
let seq = 0;
/** Every path's output lengths, summed, so that no path's work can be optimised away. */
let written = 0;

function events() {
  const out = new Array<ReturnType<typeof benchEvent>>(BATCH);
  for (let i = 0; i < BATCH; i++, seq++) out[i] = benchEvent(`path-${seq}`, seq, 1_732_800_000_000 + seq);
  return out;
}

/** Pushes a batch through the ring and hands each record's offset to `each`, then releases it. */
function throughRing(each: (at: number) => void): void {
  producer.pushMany(events());
  const range = consumer.claim(BATCH, Number.MAX_SAFE_INTEGER);
  if (range === null || range.records !== BATCH) throw new Error('the batch did not come back whole');
  const offsets: number[] = [];
  forEachRecord(ring, range.start, range.end, (at) => offsets.push(at));
  for (const at of offsets) each(at);
  consumer.release(range.end, range.records);
}

/** As the worker decodes (WorkerRuntime): the record's view, and the fields read from its payload. */
function fieldsAt(at: number) {
  const view = readRecord(ring, at);
  const start = view.payloadOffset;
  const fields = decodeFields(
    scanner,
    ring.bytes,
    start,
    start + view.payloadLength,
    view,
    DEFAULT_MAX_DEPTH,
  );
  return { view, fields };
}

/** The worker's transform stage for the scenario: its transform, a built-in sink. */
const STAGE: TransformStage = {
  transform: { map: addField, validate: undefined, lazyPayload },
  textSink: true,
};
const PARSED_STAGE: TransformStage = {
  transform: { map: addField, validate: undefined, lazyPayload: false },
  textSink: true,
};
const out: SinkRecord[] = [];
const letters: DeadLetter[] = [];

const PATHS = {
  seedPort: () => {
    for (const event of events()) written += JSON.stringify(addField(event as DecodedEvent).payload).length;
  },
  // As the worker runs it (WorkerRuntime#deliverRange): the payload a view, the event path.
  engine: () =>
    throughRing((at) => {
      const { view, fields } = fieldsAt(at);
      const text = payloadText(ring, view);
      const { payload, lazy } = eventPayload(STAGE, text);
      out.length = 0;
      transformEvent(STAGE, withPayload(fields, payload), text, out, letters, lazy);
      written += out[0]!.payloadJson!.length;
    }),
  // The same, with the payload parsed (the stage of a transform that does not take lazy payloads).
  parsed: () =>
    throughRing((at) => {
      const { view, fields } = fieldsAt(at);
      const text = payloadText(ring, view);
      const { payload } = eventPayload(PARSED_STAGE, text);
      out.length = 0;
      transformEvent(PARSED_STAGE, withPayload(fields, payload), text, out, letters);
      written += out[0]!.payloadJson!.length;
    }),
  spliced: () =>
    throughRing((at) => {
      const { view, fields } = fieldsAt(at);
      const text = payloadText(ring, view);
      written += fields.id.length + `${text.slice(0, -1)},"ingestedBy":"sluice"}`.length;
    }),
};

function cpuMicrosPerEvent(path: () => void): number {
  const before = process.cpuUsage();
  for (let b = 0; b < batches; b++) path();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / (batches * BATCH);
}

const names = Object.keys(PATHS) as (keyof typeof PATHS)[];
for (const name of names) for (let w = 0; w < 100; w++) PATHS[name]();
const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<
  keyof typeof PATHS,
  number[]
>;
for (let r = 0; r < rounds; r++) for (const name of names) samples[name].push(cpuMicrosPerEvent(PATHS[name]));
const result = Object.fromEntries(names.map((name) => [name, median(samples[name])]));
process.stdout.write(`${JSON.stringify({ ...result, written: written > 0 })}\n`);
