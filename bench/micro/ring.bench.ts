import { REC_SIZE } from '../../src/queue/layout.js';
import { RESERVE_FULL, Ring } from '../../src/queue/ring-buffer.js';
import { RingConsumer } from '../../src/queue/ring-consumer.js';
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
  ];
}
