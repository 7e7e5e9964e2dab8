import type { DecodedEvent } from './event.js';

const MAX_ID_LENGTH = 255;

/**
 * An encoded record becomes the event it was; a raw record (pushRaw) is parsed here, off the main
 * thread: the parsed line is the payload, and its own `id`, `key`, `source`, `ts` fields are used
 * when valid.
 */
export function eventFromRecord(
  raw: boolean,
  id: string,
  key: string | undefined,
  source: string | undefined,
  ts: number | undefined,
  text: string,
): DecodedEvent {
  const payload: unknown = JSON.parse(text);
  if (!raw) return { id, key, source, ts, payload };
  const event: DecodedEvent = { id, key, source, ts, payload };
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    const line = payload as Record<string, unknown>;
    if (typeof line.id === 'string' && line.id.length > 0 && line.id.length <= MAX_ID_LENGTH)
      event.id = line.id;
    if (typeof line.key === 'string' && key === undefined) event.key = line.key;
    if (typeof line.source === 'string') event.source = line.source;
    if (typeof line.ts === 'number' && Number.isFinite(line.ts)) event.ts = line.ts;
  }
  return event;
}
