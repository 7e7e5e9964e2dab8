import { createHash } from 'node:crypto';
import type { DecodedEvent } from '../../../codec/event.js';
import { sha256Hex } from './sha256.js';

/**
 * About 20 µs of CPU per event on this machine: repeated SHA-256 over the payload and a regex
 * parse of its path. The hashing is plain JavaScript (see sha256.ts: node:crypto's hashing barely
 * runs in parallel across threads on Node 20); SLUICE_BENCH_HASH=node uses node:crypto instead.
 * SLUICE_BENCH_COST_ROUNDS changes the number of hash rounds (the crossover search uses it); the
 * default is 4 (16 with node:crypto), about 20 µs either way.
 */
const NODE_HASH = process.env.SLUICE_BENCH_HASH === 'node';
const ROUNDS = Number(process.env.SLUICE_BENCH_COST_ROUNDS ?? (NODE_HASH ? 16 : 4));
const hash = NODE_HASH ? (text: string) => createHash('sha256').update(text).digest('hex') : sha256Hex;
const PATH = /^\/catalog\/item\/(\d+)$/;

export default function cpuHeavy(event: DecodedEvent): DecodedEvent {
  const p = event.payload as Record<string, unknown>;
  let digest = JSON.stringify(p);
  for (let i = 0; i < ROUNDS; i++) digest = hash(digest);
  const match = PATH.exec(String(p.path));
  p.item = match ? Number(match[1]) : null;
  p.digest = digest.slice(0, 16);
  return event;
}
