import type { DecodedEvent } from '../../../codec/event.js';

/** Validate the parsed line's shape; a failure is dead-lettered with this reason. */
export function validate(event: DecodedEvent): true | string {
  const p = event.payload as Record<string, unknown> | null;
  if (p === null || typeof p !== 'object') return 'payload is not an object';
  if (typeof p.user !== 'number') return `user must be a number, got ${typeof p.user}`;
  if (typeof p.action !== 'string') return `action must be a string, got ${typeof p.action}`;
  return true;
}

/** Add a field and serialise: the sink receives the enriched line as text. */
export default function enrich(event: DecodedEvent): DecodedEvent {
  const p = event.payload as Record<string, unknown>;
  p.ingestedBy = 'sluice';
  return { id: event.id, key: event.key, ts: event.ts, payload: JSON.stringify(p) } as DecodedEvent;
}
