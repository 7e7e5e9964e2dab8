import { TextRecord } from '../../src/codec/text-record.js';
import { payloadText, prepareEvent, readRecord, writeRecord } from '../../src/queue/record-codec.js';
import { Ring } from '../../src/queue/ring-buffer.js';
import { encodeCopyBatch } from '../../src/sinks/postgres-copy.js';
import { blackhole, type MicroCase } from './micro-suite.js';

const event = {
  id: '0192f0c4-7b1e-7c3a-9d2e-4f5a6b7c8d9e',
  key: 'user-4711',
  source: 'web',
  ts: 1_732_800_000_000,
  payload: { user: 4711, action: 'click', path: '/checkout/cart', items: [1, 2, 3], note: 'ünïcödé ok' },
};

/** Rows in the COPY case: an NDJSON line's record as the PostgreSQL sink gets it. */
const COPY_ROWS = 1000;

/**
 * COPY_ROWS records of NDJSON lines (~250 B each, an id, a source, a time) as a worker hands them to
 * the PostgreSQL sink: TextRecords over one buffer of the lines.
 */
function copyRecords(): TextRecord[] {
  const lines = Array.from({ length: COPY_ROWS }, (_, i) =>
    JSON.stringify({
      id: `e${i}`,
      ts: 1_732_800_000_000 + i,
      user: `u${i % 100}`,
      amount: i * 1.5,
      note: 'x'.repeat(170),
    }),
  );
  const bytes = Buffer.from(lines.join(''));
  const records: TextRecord[] = [];
  let at = 0;
  for (const [i, line] of lines.entries()) {
    const end = at + Buffer.byteLength(line);
    records.push(
      new TextRecord(`e${i}`, undefined, `events.ndjson:${i + 1}`, 1_732_800_000_000 + i, bytes, at, end),
    );
    at = end;
  }
  return records;
}

/** Encoding and decoding one event, each beside the JSON work it cannot avoid. */
export function codecCases(): MicroCase[] {
  const ring = Ring.create(1 << 20);
  const records = copyRecords();
  const copyTarget = Buffer.allocUnsafe(COPY_ROWS * 400);
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
    {
      name: `PostgreSQL binary COPY of ${COPY_ROWS} NDJSON lines' records (encodeCopyBatch)`,
      baseline: 'their payload bytes copied into one buffer alone',
      fn: () => {
        blackhole.value += encodeCopyBatch(records).length;
      },
      baselineFn: () => {
        let at = 0;
        for (const r of records) at += r.copyPayload(copyTarget, at);
        blackhole.value += at;
      },
    },
  ];
}
