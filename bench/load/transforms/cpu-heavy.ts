import { createHash } from 'node:crypto';
import type { DecodedEvent } from '../../../src/codec/event.js';

/**
 * About 20 µs of CPU per event on this machine: repeated SHA-256 over the payload and a regex
 * parse of its path. SLUICE_BENCH_COST_ROUNDS changes the number of hash rounds (the crossover
 * search uses it); the default is 16.
 */
const ROUNDS = Number(process.env.SLUICE_BENCH_COST_ROUNDS ?? 16);
const PATH = /^\/catalog\/item\/(\d+)$/;

export default function cpuHeavy(event: DecodedEvent): DecodedEvent {
  const p = event.payload as Record<string, unknown>;
  let digest = JSON.stringify(p);
  for (let i = 0; i < ROUNDS; i++) digest = createHash('sha256').update(digest).digest('hex');
  const match = PATH.exec(String(p.path));
  p.item = match ? Number(match[1]) : null;
  p.digest = digest.slice(0, 16);
  return event;
}
