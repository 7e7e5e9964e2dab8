/**
 * The events of `sluice bench --config`: an NDJSON file replayed in a loop or a user's generator,
 * each event given the run's id and its intended send time, the rest of it kept as it was.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { SluiceEvent } from '../../src/codec/event.js';
import { moduleYieldsLines, openFeed, readEventLines } from '../../src/harness/event-feed.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-feed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('an NDJSON events file', () => {
  const path = file(
    'events.ndjson',
    '{"id":"orig-1","ts":5,"user":1,"tags":["a"]}\n\nnot json\n[1,2]\n{"user":2}\n{}\n',
  );

  it('keeps its JSON object lines and counts the others as skipped', () => {
    const { templates, skipped } = readEventLines(path);
    expect(templates).toHaveLength(3);
    expect(skipped).toBe(2);
  });

  it('replays its lines in a loop, each with the run id and intended time in place of its own', async () => {
    const make = await openFeed({ kind: 'lines', path });
    const lines = [0, 1, 2, 3].map((seq) => make(seq, `run-${seq}`, 1000 + seq) as string);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { id: 'run-0', ts: 1000, user: 1, tags: ['a'] },
      { id: 'run-1', ts: 1001, user: 2 },
      { id: 'run-2', ts: 1002 },
      { id: 'run-3', ts: 1003, user: 1, tags: ['a'] },
    ]);
  });

  it('refuses a file without one usable line, naming --events and the file', () => {
    const empty = file('empty.ndjson', 'nope\n');
    expect(() => readEventLines(empty)).toThrow(/--events must be .*empty\.ndjson/);
    expect(() => readEventLines(join(dir, 'missing.ndjson'))).toThrow(
      /--events must be a readable NDJSON file/,
    );
  });
});

describe('an events module', () => {
  const objects = pathToFileURL(
    file(
      'objects.mjs',
      'export default function* () { yield { key: "a", payload: { n: 1 } }; yield { id: "x", payload: { n: 2 } }; }\n',
    ),
  ).href;
  const lines = pathToFileURL(file('lines.mjs', 'export default function* () { yield \'{"n":1}\'; }\n')).href;

  it('is restarted when its generator ends, and every event gets the run id and intended time', async () => {
    const make = await openFeed({ kind: 'module', url: objects, raw: false });
    const events = [0, 1, 2].map((seq) => make(seq, `run-${seq}`, 7) as SluiceEvent);
    expect(events).toEqual([
      { id: 'run-0', ts: 7, key: 'a', payload: { n: 1 } },
      { id: 'run-1', ts: 7, payload: { n: 2 } },
      { id: 'run-2', ts: 7, key: 'a', payload: { n: 1 } },
    ]);
  });

  it('yields lines for a generator of NDJSON lines', async () => {
    expect(await moduleYieldsLines(lines)).toBe(true);
    expect(await moduleYieldsLines(objects)).toBe(false);
    const make = await openFeed({ kind: 'module', url: lines, raw: true });
    expect(JSON.parse(make(4, 'run-4', 9) as string)).toEqual({ id: 'run-4', ts: 9, n: 1 });
  });

  it('is refused, naming --events-module, when it exports no function or yields nothing', async () => {
    const constant = pathToFileURL(file('constant.mjs', 'export default 42;\n')).href;
    await expect(openFeed({ kind: 'module', url: constant, raw: false })).rejects.toThrow(
      /--events-module must be a module whose default export is a generator function/,
    );
    const nothing = pathToFileURL(file('nothing.mjs', 'export default function* () {}\n')).href;
    const make = await openFeed({ kind: 'module', url: nothing, raw: false });
    expect(() => make(0, 'run-0', 1)).toThrow(/--events-module must be a generator that yields events/);
  });
});
