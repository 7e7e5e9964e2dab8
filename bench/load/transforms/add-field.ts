import type { DecodedEvent } from '../../../src/codec/event.js';

/** The bench transform: add one field to the parsed payload. */
export default function addField(event: DecodedEvent): DecodedEvent {
  (event.payload as Record<string, unknown>).ingestedBy = 'sluice';
  return event;
}
