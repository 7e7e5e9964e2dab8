import type { DecodedEvent } from '../../codec/event.js';

/** A built-in demonstration transform: stamps each payload object with `ingestedAt` (ms). */
export default function addField(event: DecodedEvent): DecodedEvent {
  if (event.payload !== null && typeof event.payload === 'object') {
    (event.payload as Record<string, unknown>).ingestedAt = Date.now();
  }
  return event;
}
