import type { DecodedEvent } from '../../../codec/event.js';

/** Add one field to the payload. */
export default function addField(event: DecodedEvent): DecodedEvent {
  (event.payload as Record<string, unknown>).ingestedBy = 'sluice';
  return event;
}
