import { REC_SIZE } from '../../src/queue/layout.js';
import { RESERVE_FULL, Ring } from '../../src/queue/ring-buffer.js';
import { RingConsumer } from '../../src/queue/ring-consumer.js';
import { RangeCopy } from '../../src/queue/ring-reader.js';
import { blackhole, type MicroCase } from './micro-suite.js';

const RECORD_BYTES = 128;
const GROUP = 100;

/** One thread writing then reading a group of 100 records, beside a plain array queue. */
export function ringCases(): MicroCase[] {
  const ring = Ring.create(1 << 20);
  const consumer = new RingConsumer(ring);
  const body = new Uint8Array(RECORD_BYTES - 16).fill(7);
  const queue: Uint8Array[] = [];
  return [
    {
      name: `ring: publish ${GROUP} × ${RECORD_BYTES} B records as one group, claim, read, release`,
      baseline: 'plain array queue: push then shift references to the same records (no copy)',
      fn: () => {
        const bytes = GROUP * RECORD_BYTES;
        const cursor = ring.tryReserve(bytes);
        if (cursor === RESERVE_FULL) throw new Error('ring unexpectedly full');
        let at = ring.offsetOf(cursor);
        for (let i = 0; i < GROUP; i++, at += RECORD_BYTES) {
          ring.words[(at + REC_SIZE) >> 2] = RECORD_BYTES;
          ring.data.set(body, at + 16);
        }
        ring.publish(cursor, bytes, GROUP);
        const range = consumer.claim(GROUP, Number.MAX_SAFE_INTEGER);
        if (!range) throw new Error('nothing claimed');
        let pos = range.start;
        for (let i = 0; i < range.records; i++, pos += RECORD_BYTES)
          blackhole.value += ring.data[(pos & ring.mask) + 16]!;
        consumer.release(range.end, range.records);
      },
      baselineFn: () => {
        for (let i = 0; i < GROUP; i++) queue.push(body);
        for (let i = 0; i < GROUP; i++) blackhole.value += queue.shift()![0]!;
      },
    },
    payloadCopyCase(),
  ];
}

const PAYLOADS = 1000;
const PAYLOAD_BYTES = 270;

/**
 * What the worker does with events nothing changes: each one's payload copied into the sink's
 * buffer (PostgreSQL's COPY). Straight from the ring, V8 copies out of the SharedArrayBuffer a byte
 * at a time wherever the two ends' alignments differ — as a payload's start and its place in the
 * COPY buffer mostly do; from a RangeCopy, after one large copy of the range, it is a plain copy.
 */
function payloadCopyCase(): MicroCase {
  const ring = Ring.create(1 << 20);
  // A claimed range of 1000 records: each 8-aligned, its payload at an odd offset within it.
  const stride = 320;
  ring.data.fill(0x61, 0, PAYLOADS * stride);
  const target = Buffer.allocUnsafeSlow(PAYLOADS * (PAYLOAD_BYTES + 7));
  const copyAll = (bytes: Buffer, base: number) => {
    let at = 0;
    for (let i = 0; i < PAYLOADS; i++) {
      const start = base + i * stride + 37;
      at += bytes.copy(target, at, start, start + PAYLOAD_BYTES) + (i % 7);
    }
    blackhole.value += target[at - 1]!;
  };
  return {
    name: `worker: ${PAYLOADS} payloads of ${PAYLOAD_BYTES} B into a sink's buffer, from a RangeCopy of their range`,
    baseline: 'the same, each copied straight out of the ring (shared memory)',
    fn: () => {
      const copy = new RangeCopy(ring, 0, PAYLOADS * stride);
      copyAll(copy.bytes, copy.offsetOf(0));
    },
    baselineFn: () => copyAll(ring.bytes, 0),
  };
}
