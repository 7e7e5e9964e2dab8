/**
 * Cross-thread transport: fixed 128-byte records from the main thread to one consumer worker.
 *   ring         — records copied into the SharedArrayBuffer ring, published in groups, the consumer
 *                  thread claims, reads and releases them.
 *   postMessage  — arrays of 1000 records, each its own 128-byte Uint8Array, structured-cloned to
 *                  the same kind of worker, with at most 8 arrays in flight (the same
 *                  bounded-memory rule the ring enforces); the consumer checks order the same way.
 * Both run in one invocation, alternating, several rounds each; medians are reported.
 *
 * npm run bench:ring -- [--json FILE] [--seconds S] [--rounds N]
 */
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { REC_SIZE } from '../../queue/layout.js';
import { reserveAsync } from '../../queue/reserve.js';
import { RESERVE_FULL, Ring } from '../../queue/ring-buffer.js';
import { benchEnv, flag, median } from '../script-env.js';

const RECORD_BYTES = 128;
/** Where each record carries its sequence number (the first body word). */
const SEQ_OFFSET = 16;
const GROUP_RECORDS = Number(flag('group') ?? 64);
const ARRAY_RECORDS = 1000;
const MAX_ARRAYS_IN_FLIGHT = 8;
const CAPACITY = Number(flag('capacity') ?? 1 << 20);
const seconds = Number(flag('seconds') ?? 2);
const rounds = Number(flag('rounds') ?? 3);

interface Round {
  records: number;
  seconds: number;
}

function consumer(mode: 'ring' | 'postMessage', workerData: unknown): Worker {
  return new Worker(new URL('./transport-consumer.js', import.meta.url), {
    workerData: { mode, ...(workerData as object) },
  });
}

function once(worker: Worker, type: string): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string }) => {
      if (message.type === type) {
        worker.off('message', onMessage);
        resolve(message as unknown as Record<string, number>);
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

async function ringRound(): Promise<Round> {
  const ring = Ring.create(CAPACITY);
  const worker = consumer('ring', { handle: ring.handle });
  await once(worker, 'ready');
  // One group's image, built once: every record's size word and 112 bytes of body. Each group is
  // copied into the ring in one memcpy, then every record gets its own sequence number.
  const groupBytes = GROUP_RECORDS * RECORD_BYTES;
  const image = new Uint8Array(groupBytes);
  const imageView = new DataView(image.buffer);
  for (let i = 0; i < GROUP_RECORDS; i++) {
    imageView.setUint32(i * RECORD_BYTES + REC_SIZE, RECORD_BYTES, true);
    for (let b = 16; b < RECORD_BYTES; b++) image[i * RECORD_BYTES + b] = (i + b) & 0xff;
  }
  const policy = { policy: 'block' as const, rejectTimeoutMs: 0 };
  let records = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    for (let g = 0; g < 64; g++) {
      let cursor = ring.tryReserve(groupBytes);
      if (cursor === RESERVE_FULL) cursor = await reserveAsync(ring, groupBytes, policy);
      const at = ring.offsetOf(cursor);
      ring.data.set(image, at);
      for (let i = 0, w = (at + SEQ_OFFSET) >> 2; i < GROUP_RECORDS; i++, w += RECORD_BYTES >> 2) {
        ring.words[w] = records + i;
      }
      ring.publish(cursor, groupBytes, GROUP_RECORDS);
      records += GROUP_RECORDS;
    }
  }
  const done = once(worker, 'done');
  ring.close();
  const result = await done;
  const elapsed = (performance.now() - started) / 1000;
  await worker.terminate();
  if (result.records !== records || result.outOfOrder !== 0) {
    throw new Error(
      `ring consumer saw ${result.records} of ${records} records, ${result.outOfOrder} out of order`,
    );
  }
  return { records, seconds: elapsed };
}

async function postMessageRound(): Promise<Round> {
  const worker = consumer('postMessage', {});
  await once(worker, 'ready');
  const template = new Uint8Array(RECORD_BYTES);
  for (let b = 0; b < RECORD_BYTES; b++) template[b] = b & 0xff;
  let inFlight = 0;
  let wake: (() => void) | null = null;
  worker.on('message', (message: { type: string }) => {
    if (message.type === 'ack') {
      inFlight--;
      wake?.();
    }
  });
  let records = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    const batch = new Array(ARRAY_RECORDS);
    for (let i = 0; i < ARRAY_RECORDS; i++) {
      const record = template.slice();
      new DataView(record.buffer).setUint32(0, records + i, true);
      batch[i] = record;
    }
    while (inFlight >= MAX_ARRAYS_IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
    worker.postMessage(batch);
    inFlight++;
    records += ARRAY_RECORDS;
  }
  while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
  const elapsed = (performance.now() - started) / 1000;
  const done = once(worker, 'done');
  worker.postMessage('end');
  const result = await done;
  await worker.terminate();
  if (result.records !== records || result.outOfOrder !== 0) {
    throw new Error(
      `postMessage consumer saw ${result.records} of ${records} records, ${result.outOfOrder} out of order`,
    );
  }
  return { records, seconds: elapsed };
}

const env = benchEnv();
const ringRates: number[] = [];
const postRates: number[] = [];
for (let r = 0; r < rounds; r++) {
  const a = await ringRound();
  ringRates.push(a.records / a.seconds);
  const b = await postMessageRound();
  postRates.push(b.records / b.seconds);
}
const ringRecordsPerSec = median(ringRates);
const postMessageRecordsPerSec = median(postRates);
const report = {
  benchmark: 'ring-transport',
  node: env.node,
  cpus: env.cpus,
  commit: env.commit,
  recordBytes: RECORD_BYTES,
  groupRecords: GROUP_RECORDS,
  capacityBytes: CAPACITY,
  rounds,
  secondsPerRound: seconds,
  ringRecordsPerSec,
  ringMBPerSec: (ringRecordsPerSec * RECORD_BYTES) / 1e6,
  postMessageRecordsPerSec,
  postMessageMBPerSec: (postMessageRecordsPerSec * RECORD_BYTES) / 1e6,
  ratio: ringRecordsPerSec / postMessageRecordsPerSec,
  ringRoundsRecordsPerSec: ringRates,
  postMessageRoundsRecordsPerSec: postRates,
};
const fmt = (n: number) => `${(n / 1e6).toFixed(2)} M records/s`;
console.log(
  `ring transport — Node ${env.node}, ${env.cpus} CPUs, 1 producer (main) + 1 consumer thread, ${RECORD_BYTES} B records, median of ${rounds} × ${seconds} s`,
);
console.log(
  `  ring (groups of ${GROUP_RECORDS}):  ${fmt(ringRecordsPerSec)}  ${report.ringMBPerSec.toFixed(0)} MB/s`,
);
console.log(
  `  postMessage (arrays of ${ARRAY_RECORDS}): ${fmt(postMessageRecordsPerSec)}  ${report.postMessageMBPerSec.toFixed(0)} MB/s`,
);
console.log(`  ring / postMessage: ${report.ratio.toFixed(1)}×`);
const json = flag('json');
if (json) writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
