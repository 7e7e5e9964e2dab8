import type { DecodedEvent } from '../../../codec/event.js';

/**
 * Payloads come as lazy views (src/codec/lazy-payload.ts): adding a member needs no parse, and the
 * payload is written as its text with the member spliced in.
 */
export const lazyPayload = true;

/** Add one field to the payload. */
export default function addField(event: DecodedEvent): DecodedEvent {
  (event.payload as Record<string, unknown>).ingestedBy = 'sluice';
  return event;
}
