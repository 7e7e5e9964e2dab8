/**
 * Events too large for the queue, end to end: an NDJSON line larger than queue.maxRecordBytes
 * (within maxLineBytes) reaches the dead-letter sink as `too-large` — with the id and source the
 * line would have had, the record's size, the limit and its first bytes — and every other line is
 * written once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PipelineOptions } from '../../src/config/pipeline-options.js';
import { NdjsonSource } from '../../src/sources/ndjson-source.js';
import { fixtureUrl, type Scene, useScenes } from '../helpers/engine.js';

const scene = useScenes();

/** Reads all of `source` into a pipeline of one worker with NDJSON dead letters, and drains it. */
async function readAll(s: Scene, source: NdjsonSource, queue?: PipelineOptions['queue']) {
  const pipeline = await s.pipeline({
    workers: { min: 1, max: 1 },
    ...(queue ? { queue } : {}),
    sink: { module: fixtureUrl('test-sink'), options: s.sinkOptions() },
    deadLetter: { type: 'ndjson', path: s.deadLetterPath },
  });
  await source.start(pipeline, new AbortController().signal);
  await pipeline.drained();
  return { source, pipeline };
}

const storedIds = (s: Scene) =>
  s
    .rows()
    .map((r) => r.id)
    .sort();

describe('an NDJSON line larger than queue.maxRecordBytes', () => {
  it('is dead-lettered as too-large with its line’s id and source and its first 1 KiB, cut on a character; the others are written', async () => {
    const s = scene();
    // A three-byte character straddles byte 1024 of the first big line.
    const bigA = `{"id":"big-a","t":"${'x'.repeat(1004)}€${'y'.repeat(20_000)}"}`;
    const bigB = `{"t":"${'z'.repeat(30_000)}"}`;
    const lines = [
      '{"id":"a"}',
      bigA,
      '{"id":"b"}',
      bigB,
      ...Array.from({ length: 50 }, (_, i) => `{"id":"n-${i}"}`),
    ];
    const path = join(s.dir, 'in.ndjson');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const { source, pipeline } = await readAll(s, new NdjsonSource({ path }), {
      capacityBytes: 64 * 1024,
      maxRecordBytes: 16 * 1024,
    });
    expect(storedIds(s)).toEqual(['a', 'b', ...Array.from({ length: 50 }, (_, i) => `n-${i}`)].sort());
    expect(source.tooLong).toBe(0);
    expect(source.pushed).toBe(lines.length);
    const letters = s.deadLetters();
    expect(letters.map((l) => l.letter.reason)).toEqual(['too-large', 'too-large']);
    expect(letters.map((l) => l.letter.event.source)).toEqual([`${path}:2`, `${path}:4`]);
    // The id the line would have had without an `id` of its own: the file's prefix and its offset.
    const offsetB = Buffer.byteLength(`${lines.slice(0, 3).join('\n')}\n`);
    expect(letters[1]!.letter.event.id).toMatch(new RegExp(`^ndjson-[0-9a-f]{16}:${offsetB}$`));
    // The cut falls inside '€': the head stops before it.
    expect(letters[0]!.letter.event.raw).toBe(bigA.slice(0, 1023));
    expect(letters[1]!.letter.event.raw).toBe(bigB.slice(0, 1024));
    expect(letters[0]!.letter.lastError).toMatch(
      /^\d+ bytes exceed queue\.maxRecordBytes \(16384\); not taken into the queue, its first 1023 bytes kept in event\.raw$/,
    );
    expect(pipeline.stats().deadLetteredByReason).toEqual({ 'too-large': 2 });
  });
});

describe('an NDJSON line longer than the source’s maxLineBytes', () => {
  it('is dead-lettered as too-large with its line’s source, size and first 1 KiB — across reads, and as the last line — and the others are written', async () => {
    const s = scene();
    const long = (tag: string, n: number) => `{"id":"${tag}","t":"${'q'.repeat(n)}"}`;
    // Longer than a 1 MiB read: its head comes from the read it began in.
    const acrossReads = long('across', 1_500_000);
    const inOneRead = long('inside', 5000);
    const last = long('last', 3000);
    const body = `{"id":"a"}
${inOneRead}
{"id":"b"}
${acrossReads}
{"id":"c"}
${last}`;
    const path = join(s.dir, 'long.ndjson');
    writeFileSync(path, body);
    const { source } = await readAll(s, new NdjsonSource({ path, maxLineBytes: 2048 }));
    expect(storedIds(s)).toEqual(['a', 'b', 'c']);
    expect(source.tooLong).toBe(3);
    const letters = s
      .deadLetters()
      .sort((x, y) => x.letter.event.source!.localeCompare(y.letter.event.source!));
    expect(letters.map((l) => [l.letter.reason, l.letter.event.source, l.letter.event.raw])).toEqual([
      ['too-large', `${path}:2`, inOneRead.slice(0, 1024)],
      ['too-large', `${path}:4`, acrossReads.slice(0, 1024)],
      ['too-large', `${path}:6`, last.slice(0, 1024)],
    ]);
    expect(letters[1]!.letter.lastError).toBe(
      `${Buffer.byteLength(acrossReads)} bytes exceed source.maxLineBytes (2048); not taken into the queue, its first 1024 bytes kept in event.raw`,
    );
  });
});
