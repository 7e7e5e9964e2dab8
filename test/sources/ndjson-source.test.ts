import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { readStandIn } from '../../src/codec/refused-record.js';
import { RecordTooLargeError } from '../../src/errors.js';
import { prng } from '../../src/harness/prng.js';
import type { RawRecord } from '../../src/queue/producer.js';
import type { LineBatch } from '../../src/queue/record-run.js';
import { RefusedRecord } from '../../src/queue/refused-record.js';
import { NdjsonSource } from '../../src/sources/ndjson-source.js';
import type { SourceTarget } from '../../src/sources/source.js';

/** A target that records every raw line and warning; lines over `maxRecord` bytes are too large. */
function collector(maxRecord = Number.POSITIVE_INFINITY) {
  const lines: string[] = [];
  const calls: number[] = [];
  const warnings: Record<string, unknown>[] = [];
  const decode = (line: Uint8Array | string) =>
    typeof line === 'string' ? line : Buffer.from(line).toString();
  const sources: string[] = [];
  const recordIds: (string | undefined)[] = [];
  const target = {
    pushLines: async (batch: LineBatch) => {
      const { bytes, starts, ends } = batch;
      if (starts.some((start, i) => ends[i]! - start > maxRecord))
        throw new RecordTooLargeError(maxRecord + 1, maxRecord);
      calls.push(starts.length);
      starts.forEach((start, i) => {
        lines.push(decode(bytes.subarray(start, ends[i])));
        sources.push(
          batch.sourcePrefix === undefined ? '(none)' : `${batch.sourcePrefix}${batch.sourceNumbers![i]}`,
        );
        recordIds.push(batch.idPrefix === undefined ? undefined : `${batch.idPrefix}${batch.idNumbers![i]}`);
      });
      return starts.length;
    },
    logger: { warn: (fields: Record<string, unknown>) => warnings.push(fields) },
  } as unknown as SourceTarget;
  return { lines, calls, warnings, sources, recordIds, target };
}

/** Resolves once `target` took its first push. */
function firstPush(target: SourceTarget): Promise<void> {
  return new Promise((resolve) => {
    const inner = target.pushLines;
    target.pushLines = async (batch) => {
      const n = await inner(batch);
      resolve();
      return n;
    };
  });
}

/** stdin stand-in that delivers the text in the given pieces (to split lines across chunks). */
function stdin(...pieces: string[]): Readable {
  return Readable.from(pieces.map((piece) => Buffer.from(piece)));
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('NdjsonSource', () => {
  it('gives each line of a file the same id on every read, from the file and the line’s byte offset', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-ndjson-'));
    const path = join(dir, 'in.ndjson');
    // Over 1 MiB, so lines straddle the reads’ chunks; CRLF and blank lines move offsets too.
    const text = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ n: i, pad: 'x'.repeat(i % 50) }));
    const body = text.map((line, i) => (i % 7 === 0 ? `${line}\r\n\n` : `${line}\n`)).join('');
    writeFileSync(path, body);
    const read = async () => {
      const c = collector();
      await new NdjsonSource({ path }).start(c.target, new AbortController().signal);
      return c;
    };
    const first = await read();
    const second = await read();
    expect(first.lines).toEqual(text);
    expect(second.recordIds).toEqual(first.recordIds);
    expect(new Set(first.recordIds).size).toBe(text.length);
    const bytes = Buffer.from(body);
    first.recordIds.forEach((id, i) => {
      const match = /^ndjson-[0-9a-f]{16}:(\d+)$/.exec(id ?? '');
      expect(match, `id ${id}`).not.toBeNull();
      const offset = Number(match![1]);
      expect(bytes.subarray(offset, offset + Buffer.byteLength(text[i]!)).toString()).toBe(text[i]);
    });
  });

  it('reads files whose lines straddle one, two and three 1 MiB reads, byte for byte, however slowly it pushes (many seeds)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-ndjson-'));
    // The source reads a file into two buffers in turn, the next read going into the one it is
    // done with: a push still reading a chunk, or a piece of a line kept from one, must not see
    // the next read's bytes there. Pushes here read their lines only after a pause.
    // Multi-byte characters (split across reads), a NUL and a lone surrogate (escaped in the line).
    const pieces = ['ä', '€', '😀', '\u0000', '\ud800', 'x'];
    const pieceBytes = pieces.map((piece) => Buffer.byteLength(JSON.stringify(piece)) - 2);
    for (let seed = 1; seed <= 6; seed++) {
      const random = prng(seed);
      const lines: string[] = [];
      const offsets: number[] = [];
      let body = '';
      let bytes = 0;
      let long = false;
      while (bytes < 3.5 * 1024 * 1024) {
        const r = random();
        // Mostly short lines; some of 100–600 KB; one in a file longer than a read (1.2–2.4 MB).
        const wanted: number =
          r < 0.9
            ? Math.floor(random() * 400)
            : r < 0.995 || long
              ? 100_000 + Math.floor(random() * 500_000)
              : 1_200_000 + Math.floor(random() * 1_200_000);
        long ||= wanted >= 1_200_000;
        let text = '';
        for (let size = 0; size < wanted; ) {
          const k = Math.floor(random() * pieces.length);
          text += pieces[k];
          size += pieceBytes[k]!;
        }
        const line = JSON.stringify({ seed, n: lines.length, text });
        lines.push(line);
        offsets.push(bytes);
        const ending = random() < 0.2 ? '\r\n' : random() < 0.1 ? '\n\n' : '\n';
        body += line + ending;
        bytes += Buffer.byteLength(line) + ending.length;
      }
      const path = join(dir, `in-${seed}.ndjson`);
      writeFileSync(path, body);
      const c = collector();
      const target = c.target;
      const push = target.pushLines.bind(target);
      target.pushLines = async (batch) => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return push(batch);
      };
      const source = new NdjsonSource({ path, maxLineBytes: 3 * 1024 * 1024 });
      await source.start(target, new AbortController().signal);
      expect([seed, c.lines.length, source.tooLong]).toEqual([seed, lines.length, 0]);
      const wrong = c.lines.findIndex((line, i) => line !== lines[i]);
      expect([seed, wrong]).toEqual([seed, -1]);
      // Each line's id: the file's digest and the line's byte offset.
      const misplaced = c.recordIds.findIndex((id, i) => !id?.endsWith(`:${offsets[i]}`));
      expect([seed, misplaced]).toEqual([seed, -1]);
    }
  });

  it('gives lines read from stdin no id of their own: stdin cannot be read again', async () => {
    const { recordIds, target } = collector();
    await new NdjsonSource({ path: '-', stdin: stdin('{"a":1}\n{"a":2}\n') }).start(
      target,
      new AbortController().signal,
    );
    expect(recordIds).toEqual([undefined, undefined]);
  });

  it('pushes every line of a file, malformed ones included, one push per read, and ends at EOF', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-ndjson-'));
    const path = join(dir, 'in.ndjson');
    const text = Array.from({ length: 2500 }, (_, i) =>
      i === 10 ? '{oops' : JSON.stringify({ payload: i }),
    );
    writeFileSync(path, `${text.join('\n')}\n`);
    const { lines, calls, sources, target } = collector();
    const source = new NdjsonSource({ path });
    await source.start(target, new AbortController().signal);
    expect(lines).toEqual(text);
    // Each event's source is where it was: the malformed one's dead letter will say line 11.
    expect(sources).toEqual(text.map((_, i) => `${path}:${i + 1}`));
    expect(source.lines).toBe(2500);
    // One push per read, without an object per line: the whole file fits one 1 MiB read.
    expect(calls).toEqual([2500]);
  });

  it('reassembles lines split across reads, strips CR, skips blank lines and keeps a last line without newline', async () => {
    const { lines, sources, target } = collector();
    const source = new NdjsonSource({ path: '-', stdin: stdin('{"a"', ':1}\r\n\n  \n{"b":', '2}\n{"c":3}') });
    await source.start(target, new AbortController().signal);
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    expect(sources).toEqual(['stdin:1', 'stdin:4', 'stdin:5']);
  });

  it('a line longer than maxLineBytes goes as its stand-in with its first bytes, warned about with its line number and counted', async () => {
    const { lines, warnings, target } = collector();
    const standIns: RawRecord[] = [];
    target.pushRawRecords = async (records) => {
      standIns.push(...records);
      return records.length;
    };
    const long = 'x'.repeat(50);
    const source = new NdjsonSource({
      path: '-',
      maxLineBytes: 20,
      stdin: stdin('{"ok":1}\n', long.slice(0, 30), `${long.slice(30)}\n{"ok":2}\n`, long),
    });
    await source.start(target, new AbortController().signal);
    expect(lines).toEqual(['{"ok":1}', '{"ok":2}']);
    expect(source.tooLong).toBe(2);
    expect(warnings.map((w) => w.line)).toEqual([2, 4]);
    expect(warnings[0]).toMatchObject({ bytes: 50, maxLineBytes: 20 });
    expect(standIns.map((r) => [r.source, readStandIn(r.data as string)])).toEqual([
      ['stdin:2', { recordBytes: 50, limit: 20, limitName: 'source.maxLineBytes', head: long }],
      ['stdin:4', { recordBytes: 50, limit: 20, limitName: 'source.maxLineBytes', head: long }],
    ]);
    expect(source.pushed).toBe(4);
  });

  it('a line too large for the queue goes as its stand-in, with the line’s source and its first bytes, and the rest of its chunk is pushed', async () => {
    const { lines, warnings, target } = collector(10);
    const standIns: RawRecord[] = [];
    target.pushRawRecords = async (records) => {
      standIns.push(...records);
      return records.length;
    };
    const source = new NdjsonSource({ path: '-', stdin: stdin('{"a":1}\n{"big":"xxxxxx"}\n{"b":2}\n') });
    await source.start(target, new AbortController().signal);
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    expect(source.tooLong).toBe(0);
    expect(source.pushed).toBe(3);
    expect(standIns).toHaveLength(1);
    expect(standIns[0]).toBeInstanceOf(RefusedRecord);
    expect(standIns[0]!.source).toBe('stdin:2');
    expect(readStandIn(standIns[0]!.data as string)).toEqual({
      recordBytes: 11,
      limit: 10,
      limitName: 'queue.maxRecordBytes',
      head: '{"big":"xxxxxx"}',
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ line: 2, maxRecordBytes: 10 });
  });

  it('a line from a stdin that stays open is pushed at once, and aborting ends the read', async () => {
    const { lines, target } = collector();
    const pushed = firstPush(target);
    const input = new PassThrough();
    const stop = new AbortController();
    const running = new NdjsonSource({ path: '-', stdin: input }).start(target, stop.signal);
    input.write('{"a":1}\n');
    await pushed;
    expect(lines).toEqual(['{"a":1}']);
    stop.abort();
    await running;
    expect(input.destroyed).toBe(true);
  });

  it.skipIf(process.platform === 'win32')(
    'a FIFO that stays open is read as a stream: its line is pushed at once, and aborting ends the read',
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'sluice-ndjson-'));
      const fifo = join(dir, 'in.fifo');
      execFileSync('mkfifo', [fifo]);
      const { lines, target } = collector();
      const pushed = firstPush(target);
      const stop = new AbortController();
      const running = new NdjsonSource({ path: fifo }).start(target, stop.signal);
      // Opening the writing end waits for the source to open the reading end.
      const writer = await open(fifo, 'w');
      try {
        await writer.write('{"a":1}\n');
        await pushed;
        expect(lines).toEqual(['{"a":1}']);
        // The writer stays open: the next read would wait for ever, and the abort must end it.
        stop.abort();
        await running;
      } finally {
        await writer.close();
      }
    },
    15_000,
  );

  it('a UTF-8 byte order mark opening the input is not part of the first line; offsets still count it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-ndjson-'));
    const path = join(dir, 'bom.ndjson');
    writeFileSync(
      path,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\n\ufeff{"b":2}\n')]),
    );
    const { lines, recordIds, target } = collector();
    await new NdjsonSource({ path }).start(target, new AbortController().signal);
    // Only the input's first: one inside the input is the line's own (invalid JSON, dead-lettered).
    expect(lines).toEqual(['{"a":1}', '\ufeff{"b":2}']);
    expect(recordIds.map((id) => Number(id!.split(':').at(-1)))).toEqual([3, 11]);
  });

  it('a byte order mark cut across stdin reads is skipped all the same; one or two bytes that only begin like one are a line', async () => {
    const split = (...pieces: number[][]) => Readable.from(pieces.map((piece) => Buffer.from(piece)));
    const bytes = (text: string) => [...Buffer.from(text)];
    for (const pieces of [
      [[0xef], [0xbb], [0xbf, ...bytes('{"a":1}\n{"b":2}\n')]],
      [[0xef, 0xbb], [0xbf, ...bytes('{"a":1}\n')], bytes('{"b":2}\n')],
      [[0xef], [0xbb, 0xbf], bytes('{"a":1}\n{"b":2}')],
    ]) {
      const { lines, target } = collector();
      await new NdjsonSource({ path: '-', stdin: split(...pieces) }).start(
        target,
        new AbortController().signal,
      );
      expect(lines, JSON.stringify(pieces)).toEqual(['{"a":1}', '{"b":2}']);
    }
    const { lines, target } = collector();
    await new NdjsonSource({ path: '-', stdin: split([0xef], [0xbb]) }).start(
      target,
      new AbortController().signal,
    );
    expect(lines).toEqual([Buffer.from([0xef, 0xbb]).toString()]);
  });

  it.skipIf(process.platform === 'win32')(
    'a FIFO no writer has opened yet: aborting ends the wait for one, and start() resolves',
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'sluice-ndjson-'));
      const fifo = join(dir, 'lonely.fifo');
      execFileSync('mkfifo', [fifo]);
      const { lines, target } = collector();
      const stop = new AbortController();
      const running = new NdjsonSource({ path: fifo }).start(target, stop.signal);
      // Long enough for the open to be waiting in the thread pool.
      await new Promise((resolve) => setTimeout(resolve, 200));
      stop.abort();
      await running;
      expect(lines).toEqual([]);
    },
    15_000,
  );

  it('a directory as source.path makes start() reject with a SourceError naming the path', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-ndjson-'));
    const { target } = collector();
    const failure = new NdjsonSource({ path: dir }).start(target, new AbortController().signal);
    await expect(failure).rejects.toThrow(
      `ndjson source: cannot open source.path "${dir}": it is a directory`,
    );
    await expect(failure).rejects.toMatchObject({ code: 'SLUICE_SOURCE_ERROR' });
  });

  it('a missing file makes start() reject with a SourceError naming the path and the read error', async () => {
    const { target } = collector();
    const path = join(tmpdir(), 'sluice-no-such-file.ndjson');
    const source = new NdjsonSource({ path });
    const failure = source.start(target, new AbortController().signal);
    await expect(failure).rejects.toThrow(`ndjson source: cannot open source.path "${path}": ENOENT`);
    await expect(failure).rejects.toMatchObject({ code: 'SLUICE_SOURCE_ERROR' });
  });
});
