import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { prng } from '../../src/harness/prng.js';

/** Seed of the event file: the same `--events` gives the same bytes on every machine. */
export const EVENT_SEED = 0x51c3;

const TYPES = ['view', 'click', 'add-to-cart', 'purchase', 'refund', 'signup'];
const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'SEK'];
const TAGS = ['web', 'mobile', 'eu', 'us', 'promo', 'returning', 'new', 'beta'];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Firefox/125.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4) Mobile/15E148 Safari',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Version/17.4 Safari',
];
const HEX = '0123456789abcdef';
/** 2023-11-14T22:13:20Z: events spread over the following day. */
const EPOCH_MS = 1_700_000_000_000;

/** The id of the event on line `seq` (0-based): `evt-000001` for the first, wider past a million. */
export function eventId(seq: number): string {
  return `evt-${String(seq + 1).padStart(6, '0')}`;
}

/**
 * One event as an NDJSON line of about 250 bytes (ASCII, nothing a parser or a database would
 * stumble on), its values drawn from `random`.
 */
export function eventLine(seq: number, random: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const ts = EPOCH_MS + Math.floor(random() * 86_400_000);
  const amount = Math.round(random() * 50_000) / 100;
  const first = pick(TAGS);
  let second = pick(TAGS);
  if (second === first) second = TAGS[(TAGS.indexOf(first) + 1) % TAGS.length]!;
  const ip = `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`;
  let session = '';
  for (let i = 0; i < 20; i++) session += HEX[Math.floor(random() * 16)];
  return (
    `{"id":"${eventId(seq)}","ts":${ts},"user":"u-${Math.floor(random() * 10_000)}",` +
    `"type":"${pick(TYPES)}","amount":${amount},"currency":"${pick(CURRENCIES)}",` +
    `"tags":["${first}","${second}"],"meta":{"ip":"${ip}","ua":"${pick(AGENTS)}","session":"${session}"}}`
  );
}

/** Writes `count` events, one line each, to `path`; returns the file's size in bytes. */
export async function writeEventFile(path: string, count: number, seed = EVENT_SEED): Promise<number> {
  const random = prng(seed);
  const out = createWriteStream(path);
  let bytes = 0;
  let chunk = '';
  for (let seq = 0; seq < count; seq++) {
    chunk += `${eventLine(seq, random)}\n`;
    if (chunk.length >= 1 << 16) {
      bytes += chunk.length;
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  bytes += chunk.length;
  out.end(chunk);
  await once(out, 'finish');
  return bytes;
}
