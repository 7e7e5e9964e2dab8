import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { resolveSinkSpec } from '../../src/config/sink-spec-schema.js';
import { NdjsonSink, type NdjsonSinkOptions } from '../../src/sinks/ndjson-sink.js';
import { complianceBatch, runSinkCompliance } from '../helpers/sink-compliance.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-ndjson-sink-'));
const path = join(dir, 'deep', 'er', 'events.ndjson');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sink built as a worker builds it: from the resolved spec. */
const ndjsonSink = (options: NdjsonSinkOptions) =>
  new NdjsonSink(resolveSinkSpec({ type: 'ndjson', ...options }));

function readRecords(file = path): SinkRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as SinkRecord);
}

runSinkCompliance(
  () => ndjsonSink({ path }),
  async () => readRecords().map((r) => r.id),
  {
    name: 'NDJSON',
    failures: [
      {
        // /dev/full accepts the open and fails every write with ENOSPC, like a full disk.
        description: 'the disk is full',
        makeSink: () => ndjsonSink({ path: '/dev/full' }),
      },
    ],
  },
);

describe('NdjsonSink', () => {
  it('says it is not idempotent: a batch written twice appears twice', async () => {
    const file = join(dir, 'twice.ndjson');
    const sink = ndjsonSink({ path: file });
    await sink.open();
    const batch = complianceBatch(3);
    await sink.write(batch);
    await sink.write(batch);
    await sink.close();
    expect(sink.idempotent).toBe(false);
    expect(readRecords(file).map((r) => r.id)).toEqual([...batch, ...batch].map((r) => r.id));
  });

  it('writes one JSON line per record, in batch order, carrying every field', async () => {
    const file = join(dir, 'fields.ndjson');
    const sink = ndjsonSink({ path: file, fsync: 'never' });
    await sink.open();
    const batch = complianceBatch(4);
    await sink.write(batch);
    await sink.close();
    expect(readRecords(file)).toEqual(batch);
  });

  it('keeps a record on one line when its payload text holds LF between tokens, meaning the same; CR kept as it is', async () => {
    const file = join(dir, 'breaks.ndjson');
    const sink = ndjsonSink({ path: file, fsync: 'never' });
    await sink.open();
    const texts = ['{"a":1,\n"b":\r\n[1,\r2]}', '\n{"s":"x\\ny"}\r', '{"n":12345678901234567890}'];
    await sink.write(
      texts.map((payloadJson, i) => ({ id: `r${i}`, payload: JSON.parse(payloadJson), payloadJson })),
    );
    await sink.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(texts.length + 1);
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((line) => (JSON.parse(line) as SinkRecord).payload)).toEqual(
      texts.map((t) => JSON.parse(t)),
    );
    // Written as received otherwise: the big number's digits stay, CR stays.
    expect(lines[2]).toContain('"payload":{"n":12345678901234567890}');
    expect(lines[1]).toContain('"payload": {"s":"x\\ny"}\r}');
    expect(lines[0]).toContain('"payload":{"a":1, "b":\r [1,\r2]}');
  });

  it('appends to an existing file instead of truncating it', async () => {
    const file = join(dir, 'append.ndjson');
    const first = complianceBatch(2);
    const second = complianceBatch(2);
    for (const batch of [first, second]) {
      const sink = ndjsonSink({ path: file });
      await sink.open();
      await sink.write(batch);
      await sink.close();
    }
    expect(readRecords(file).map((r) => r.id)).toEqual([...first, ...second].map((r) => r.id));
  });

  it('refuses to write before open with a permanent SinkError', async () => {
    const sink = ndjsonSink({ path: join(dir, 'never-opened.ndjson') });
    await expect(sink.write(complianceBatch(1))).rejects.toMatchObject({ retryable: false });
  });
});
