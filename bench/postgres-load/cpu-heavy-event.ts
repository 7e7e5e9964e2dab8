import type { DecodedEvent } from '../../src/codec/event.js';
import cpuHeavy from '../../src/harness/scenarios/transforms/cpu-heavy.js';

/**
 * The transform of the cpu-heavy workload: `sluice bench`'s cpu-heavy transform (SHA-256 rounds
 * over the payload, in JavaScript, and a regex), the same module Sluice's workers load.
 */
export const CPU_HEAVY_TRANSFORM = new URL(
  '../../src/harness/scenarios/transforms/cpu-heavy.js',
  import.meta.url,
);

/** A line as Sluice's workers decode it (its own id and ts; no key, no source). */
export function decodeLine(line: string): DecodedEvent {
  const payload = JSON.parse(line) as { id: string; ts: number };
  return { id: payload.id, key: undefined, source: undefined, ts: payload.ts, payload };
}

/** What every peer does per event: decode the line, run the transform, serialise the payload. */
export function transformLine(line: string): { id: string; ts: number | undefined; payload: string } {
  const event = cpuHeavy(decodeLine(line));
  return { id: event.id, ts: event.ts, payload: JSON.stringify(event.payload) };
}
