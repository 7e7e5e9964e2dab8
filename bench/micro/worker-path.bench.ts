import { DEFAULT_MAX_DEPTH, decodeFields } from '../../src/codec/decode-event.js';
import { JsonScanner } from '../../src/codec/json-scan.js';
import { TextRecord } from '../../src/codec/text-record.js';
import { resolveQueueOptions } from '../../src/config/queue-options-schema.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { QueueProducer } from '../../src/queue/producer.js';
import { readRecord } from '../../src/queue/record-codec.js';
import { RingConsumer } from '../../src/queue/ring-consumer.js';
import { RangeCopy, recordOffsets } from '../../src/queue/ring-reader.js';
import { encodeCopyBatch } from '../../src/sinks/postgres-copy.js';
import { blackhole, type MicroCase } from './micro-suite.js';

const LINES = 1000;

/** NDJSON lines shaped like the postgres-load bench's (~260 B: nested object, array, numbers). */
function ndjsonLines(): string[] {
  return Array.from({ length: LINES }, (_, i) =>
    JSON.stringify({
      id: `evt-${String(i).padStart(9, '0')}`,
      ts: 1_732_800_000_000 + i * 7,
      user: `u-${(i * 7919) % 10_000}`,
      type: ['click', 'view', 'purchase'][i % 3],
      amount: Math.round(i * 13.37) / 100,
      currency: 'EUR',
      tags: ['alpha', 'beta'],
      meta: {
        ip: `10.0.${i % 256}.${(i * 7) % 256}`,
        ua: 'Mozilla/5.0 (X11; Linux x86_64)',
        session: `s-${i}`,
      },
    }),
  );
}

/**
 * A worker's path for NDJSON lines no transform touches, into PostgreSQL's own table: the lines in
 * the ring as the ndjson source writes them (pushLines: a read's bytes, an id prefix and the
 * file's name as source), then per batch what WorkerRuntime#deliverRange does — the range copied
 * out of shared memory, each record's header read, the line scanned for its id and ts, a
 * TextRecord over its bytes — and the batch's binary COPY. Beside JSON.parse of the same lines:
 * the least a script that reads the lines does with them.
 */
export function workerPathCases(): MicroCase[] {
  const lines = ndjsonLines();
  const bytes = Buffer.from(`${lines.join('\n')}\n`);
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const line of lines) {
    starts.push(at);
    at += Buffer.byteLength(line);
    ends.push(at);
    at++;
  }
  const queue = EventQueue.create(resolveQueueOptions({ capacityBytes: 1 << 22 }));
  new QueueProducer(queue).pushLines({
    bytes,
    starts,
    ends,
    idPrefix: 'ndjson-0123456789abcdef:',
    idNumbers: starts,
    sourcePrefix: '/var/data/events.ndjson:',
    sourceNumbers: starts.map((_, i) => i + 1),
  });
  const ring = queue.rings[0]!;
  // Claimed once and read again on every run: reading a claimed range does not change it.
  const range = new RingConsumer(ring).claim(LINES, 1 << 30)!;
  const scanner = new JsonScanner();
  return [
    {
      name: `worker: ${LINES} NDJSON lines from the ring to PostgreSQL binary COPY rows (no transform)`,
      baseline: 'JSON.parse of the same lines',
      fn: () => {
        const copy = new RangeCopy(ring, range.start, range.end);
        const records: TextRecord[] = [];
        for (const offset of recordOffsets(ring, range.start, range.end)) {
          const view = readRecord(ring, offset, false);
          const start = view.payloadOffset;
          const end = start + view.payloadLength;
          const fields = decodeFields(scanner, ring.bytes, start, end, view, DEFAULT_MAX_DEPTH);
          const from = copy.offsetOf(start);
          records.push(
            new TextRecord(
              fields.id,
              fields.key,
              fields.source,
              fields.ts,
              copy.bytes,
              from,
              from + end - start,
            ),
          );
        }
        blackhole.value += encodeCopyBatch(records).length;
      },
      baselineFn: () => {
        for (const line of lines) blackhole.value += (JSON.parse(line) as { ts: number }).ts;
      },
    },
  ];
}
