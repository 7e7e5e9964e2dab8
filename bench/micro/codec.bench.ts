import { payloadText, prepareEvent, readRecord, writeRecord } from '../../src/queue/record-codec.js';
import { Ring } from '../../src/queue/ring-buffer.js';
import { blackhole, type MicroCase } from './micro-suite.js';

const event = {
  id: '0192f0c4-7b1e-7c3a-9d2e-4f5a6b7c8d9e',
  key: 'user-4711',
  source: 'web',
  ts: 1_732_800_000_000,
  payload: { user: 4711, action: 'click', path: '/checkout/cart', items: [1, 2, 3], note: 'ünïcödé ok' },
};

/** Encoding and decoding one event, each beside the JSON work it cannot avoid. */
export function codecCases(): MicroCase[] {
  const ring = Ring.create(1 << 20);
  const prepared = prepareEvent(event, 1 << 16);
  writeRecord(ring, 0, prepared, 0);
  const json = JSON.stringify(event);
  return [
    {
      name: 'encode event into ring (validate + JSON.stringify + copy)',
      baseline: 'JSON.stringify alone',
      fn: () => {
        const record = prepareEvent(event, 1 << 16);
        writeRecord(ring, 4096, record, 1);
      },
      baselineFn: () => {
        blackhole.value += JSON.stringify(event).length;
      },
    },
    {
      name: 'decode event from ring (header + strings + JSON.parse)',
      baseline: 'JSON.parse alone',
      fn: () => {
        const view = readRecord(ring, 0);
        blackhole.value += (JSON.parse(payloadText(ring, view)) as { user: number }).user;
      },
      baselineFn: () => {
        blackhole.value += (JSON.parse(json) as { payload: { user: number } }).payload.user;
      },
    },
  ];
}
