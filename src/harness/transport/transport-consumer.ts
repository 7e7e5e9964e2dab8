import { parentPort, workerData } from 'node:worker_threads';
import { Ring, type RingHandle } from '../../queue/ring-buffer.js';
import { RingConsumer } from '../../queue/ring-consumer.js';
import { forEachRecord } from '../../queue/ring-reader.js';

const port = parentPort!;
const data = workerData as { mode: 'ring' | 'postMessage'; handle?: RingHandle };

if (data.mode === 'ring') {
  const ring = Ring.attach(data.handle!);
  const consumer = new RingConsumer(ring);
  port.postMessage({ type: 'ready' });
  let records = 0;
  let checksum = 0;
  let expected = 0;
  let outOfOrder = 0;
  for (;;) {
    const range = consumer.claim(1 << 30, 1 << 20);
    if (range === null) {
      // Closed and nothing left: the producer is done. A wrap marker alone counts as data here,
      // and the next claim steps over it.
      if (ring.closed && !consumer.hasData()) break;
      if (!ring.closed) consumer.waitForWorkSync();
      continue;
    }
    records += forEachRecord(ring, range.start, range.end, (at) => {
      // Every record must arrive, once, in order: its sequence number says which it is.
      if (ring.words[(at + 16) >> 2] !== expected) outOfOrder++;
      expected++;
      checksum += ring.data[at + 16 + 7]!;
    });
    consumer.release(range.end, range.records);
  }
  port.postMessage({ type: 'done', records, checksum, outOfOrder });
} else {
  let records = 0;
  let checksum = 0;
  let expected = 0;
  let outOfOrder = 0;
  port.on('message', (message: unknown) => {
    if (message === 'end') {
      port.postMessage({ type: 'done', records, checksum, outOfOrder });
      return;
    }
    const batch = message as Uint8Array[];
    for (const record of batch) {
      const seq = record[0]! | (record[1]! << 8) | (record[2]! << 16) | (record[3]! << 24);
      if (seq !== expected) outOfOrder++;
      expected++;
      checksum += record[7]!;
    }
    records += batch.length;
    port.postMessage({ type: 'ack' });
  });
  port.postMessage({ type: 'ready' });
}
