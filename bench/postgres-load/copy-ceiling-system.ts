import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { SinkRecord } from '../../src/codec/event.js';
import { DEFAULT_WORKER_OPTIONS } from '../../src/config/worker-defaults.js';
import { DEFAULT_MAX_BATCH_BYTES } from '../../src/queue/queue-options.js';
import { recordSize } from '../../src/queue/record-codec.js';
import { encodeCopyBatch } from '../../src/sinks/postgres-copy.js';
import type { LoadSystem } from './load-system.js';
import { runSingleChild } from './single-child.js';

/** `ndjson-` and 16 hex digits and `:`, before a line's byte offset (src/sources/ndjson-source.ts). */
const STORED_ID_PREFIX_BYTES = 24;

const SCRIPT = new URL('./copy-ceiling-script.js', import.meta.url).pathname;

/** Connections the ceiling writes over: one per worker Sluice starts at most, as its sink does. */
export const CEILING_LANES = DEFAULT_WORKER_OPTIONS.max;

/**
 * Not a way a user would load the file: what bounds every Node client of Sluice's design on this
 * machine. The rows are Sluice's own binary COPY rows for the file (the line's own `id`, `ts` and
 * bytes, `<file>:<line>` as the source, as `sluice run` stores them), cut into batches as the ring
 * cuts them (1 MiB of records) and encoded before the spawn. The timed process only starts Node,
 * connects, creates the table and sends the batches over as many connections as Sluice has
 * workers, each batch a COPY straight into the table as Sluice's sink writes one while no id is
 * stored. No parsing, no queue, no threads: the server's ceiling plus a Node process's start.
 * `Sluice ÷ it` is how close Sluice comes; a goal above the ceiling's own ratio to a peer cannot be
 * met in that run.
 */
export const copyCeiling: LoadSystem = {
  name: 'copy-ceiling',
  describe: `the bound, not a peer: Sluice's COPY rows encoded beforehand, sent over ${CEILING_LANES} connection(s)`,
  commitsAsItGoes: true,
  run(job) {
    const batches = encodedBatches(job.file);
    return runSingleChild({
      label: 'copy-ceiling',
      command: process.execPath,
      args: [SCRIPT, job.databaseUrl, batches, job.table, String(CEILING_LANES)],
      cwd: job.workDir,
      timeoutMs: job.timeoutMs,
      node: true,
    });
  },
};

/**
 * The file's COPY batches, each a 4-byte little-endian length and the batch, written once next to
 * the file (the bench's directory, removed at its end) and used by every round.
 */
function encodedBatches(file: string): string {
  const out = `${file}.copy-batches`;
  if (existsSync(out)) return out;
  const text = readFileSync(file, 'utf8');
  const fd = openSync(out, 'w');
  try {
    let batch: SinkRecord[] = [];
    let bytes = 0;
    const flush = () => {
      if (batch.length === 0) return;
      const rows = encodeCopyBatch(batch);
      const length = Buffer.alloc(4);
      length.writeUInt32LE(rows.length);
      writeSync(fd, length);
      writeSync(fd, rows);
      batch = [];
      bytes = 0;
    };
    let lineNumber = 0;
    let offset = 0;
    for (const line of text.split('\n')) {
      lineNumber++;
      if (line === '') {
        offset++;
        continue;
      }
      const { id, ts } = JSON.parse(line) as { id: string; ts?: number };
      const record: SinkRecord = {
        id,
        key: undefined,
        source: `${file}:${lineNumber}`,
        ts,
        payload: undefined,
        payloadJson: line,
      };
      const lineBytes = Buffer.byteLength(line);
      // The ring keeps each line with the id an NDJSON source stores for it (`ndjson-<16 hex>:<byte
      // offset>`) and its source: sized so, the batches are the ones Sluice's dispatcher cuts.
      const size = recordSize(
        STORED_ID_PREFIX_BYTES + String(offset).length,
        0,
        Buffer.byteLength(record.source!),
        lineBytes,
      );
      offset += lineBytes + 1;
      if (bytes + size > DEFAULT_MAX_BATCH_BYTES) flush();
      batch.push(record);
      bytes += size;
    }
    flush();
  } finally {
    closeSync(fd);
  }
  return out;
}
