/**
 * Pushed events' ids, keys and sources of hostile shapes, through the engine into SQLite: the
 * record codec writes an ASCII string of up to 40 characters a character at a time and any other
 * through Buffer's UTF-8 writer, so strings on both sides of that line — NUL and other control
 * characters, 39/40/41 ASCII characters, an ASCII run ending in one non-ASCII character, astral
 * characters, 255-byte ids — must come out of the sink exactly as pushed, each id once; one holding
 * a lone surrogate is refused at push() naming its field, and takes no place.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { SluiceEvent } from '../../src/codec/event.js';
import { prng } from '../../src/harness/prng.js';
import { useScenes } from '../helpers/engine.js';

const scene = useScenes();
const SEEDS = [1, 2, 3, 4, 5];
const EVENTS = 400;

const utf8 = (value: string) => Buffer.byteLength(value, 'utf8');

/** A string of `length` characters drawn from `alphabet`. */
function draw(random: () => number, alphabet: readonly string[], length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(random() * alphabet.length)]!;
  return out;
}

/** Every ASCII character, NUL and the other control characters included. */
const ASCII = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c));
const NON_ASCII = ['é', 'ß', '€', '中', '\u{1F600}', '\u{10FFFF}', '\u0080', '\u07FF', '\uFFFD'];

/** A well-formed string of one of the shapes around the codec's ASCII fast path. */
function hostile(random: () => number): string {
  const kind = Math.floor(random() * 6);
  switch (kind) {
    case 0:
      // 39, 40 or 41 ASCII characters: the fast path's edge.
      return draw(random, ASCII, 39 + Math.floor(random() * 3));
    case 1:
      // Short ASCII, down to one character.
      return draw(random, ASCII, 1 + Math.floor(random() * 12));
    case 2:
      // ASCII then one character that is not: the byte count differs from the length by 1 to 3.
      return draw(random, ASCII, Math.floor(random() * 40)) + draw(random, NON_ASCII, 1);
    case 3:
      return draw(random, NON_ASCII, 1 + Math.floor(random() * 20));
    case 4:
      // Long ASCII, up to what an id may hold.
      return draw(random, ASCII, 41 + Math.floor(random() * 200));
    default:
      return draw(random, [...ASCII, ...NON_ASCII], 1 + Math.floor(random() * 60));
  }
}

/** A unique id: `n` first, then a hostile tail, cut to 255 UTF-8 bytes on a character boundary. */
function idOf(random: () => number, n: number): string {
  let id = `${n}:`;
  for (const char of hostile(random)) {
    if (utf8(id + char) > 255) break;
    id += char;
  }
  return id;
}

describe('pushed ids, keys and sources of hostile shapes', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${EVENTS} events reach SQLite with their id, key and source as pushed, each once; lone surrogates refused`, async () => {
      const random = prng(seed);
      const s = scene();
      const pipeline = await s.pipeline({
        workers: { min: 2, max: 2 },
        sink: { type: 'sqlite', path: s.dbPath },
        deadLetter: { type: 'ndjson', path: s.deadLetterPath },
      });
      const accepted = new Map<string, SluiceEvent>();
      const batch: SluiceEvent[] = [];
      let refused = 0;
      for (let n = 0; n < EVENTS; n++) {
        const event: SluiceEvent = {
          id: idOf(random, n),
          ...(random() < 0.8 ? { key: hostile(random) } : {}),
          ...(random() < 0.5 ? { source: hostile(random) } : {}),
          payload: { n },
        };
        if (random() < 0.05) {
          // A lone surrogate in the key or the source: refused whole, naming the field.
          const field = random() < 0.5 ? 'key' : 'source';
          const bad = { ...event, [field]: `${hostile(random).slice(0, 30)}\uD800` };
          await expect(pipeline.push(bad)).rejects.toMatchObject({
            code: 'SLUICE_INVALID_EVENT',
            message: expect.stringMatching(new RegExp(`^event\\.${field} `)),
          });
          refused++;
          continue;
        }
        accepted.set(event.id!, event);
        batch.push(event);
        if (batch.length === 50) await pipeline.pushMany(batch.splice(0));
      }
      if (batch.length > 0) await pipeline.pushMany(batch);
      await pipeline.drained();
      expect(refused).toBeGreaterThan(0);
      expect(pipeline.stats()).toMatchObject({ written: accepted.size, deadLettered: 0 });

      const db = new Database(s.dbPath, { readonly: true });
      const rows = db.prepare('SELECT id, key, source, payload FROM events').all() as {
        id: string;
        key: string | null;
        source: string | null;
        payload: string;
      }[];
      db.close();
      expect(rows).toHaveLength(accepted.size);
      const seen = new Set<string>();
      for (const row of rows) {
        const event = accepted.get(row.id);
        expect(event, `stored id ${JSON.stringify(row.id)} was never pushed`).toBeDefined();
        expect(seen.has(row.id), `id ${JSON.stringify(row.id)} stored twice`).toBe(false);
        seen.add(row.id);
        expect(row.key).toBe(event!.key ?? null);
        expect(row.source).toBe(event!.source ?? null);
        expect(JSON.parse(row.payload)).toEqual(event!.payload);
      }
    });
  }
});
