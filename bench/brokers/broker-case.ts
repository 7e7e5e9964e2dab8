import type { Source } from '../../src/sources/source.js';

/** A Sluice source that acknowledges its broker's messages and counts what it acknowledged. */
export interface CountingSource extends Source {
  readonly counts: { received: number; acked: number };
}

/** One broker as the benchmark drives it: a stream of N events, read by fresh consumers. */
export interface BrokerCase {
  /** The broker's name in the report. */
  readonly name: string;
  /** Creates a stream no other run uses and publishes `events` events into it; stops when `signal` aborts. */
  setUp(events: number, signal: AbortSignal): Promise<void>;
  /**
   * Reads every event through a fresh consumer with the plain client (read a batch, acknowledge
   * it, nothing else), then deletes the consumer. Resolves with the seconds from the first message
   * to the last acknowledgement; rejects when `signal` aborts.
   */
  baseline(events: number, batch: number, signal: AbortSignal): Promise<number>;
  /** A Sluice source on the stream under a fresh consumer, and how to delete that consumer. */
  source(batch: number): { source: CountingSource; dispose(): Promise<void> };
  /** Deletes the stream and everything on it; safe to call after a failed setUp. */
  tearDown(): Promise<void>;
}

/** A small JSON event with an id of its own, as a producer would publish it. */
export function eventJson(i: number): string {
  return JSON.stringify({
    id: `evt-${i}`,
    user: i % 5000,
    action: i % 3 ? 'view' : 'click',
    path: `/catalog/item/${i % 977}`,
  });
}

/** A name no other run uses: prefix, pid and time. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}`;
}

/** Rejects with an error naming `what` once `signal` aborts. */
export function throwIfAborted(signal: AbortSignal, what: string): void {
  if (signal.aborted) throw new Error(`${what}: ${String(signal.reason ?? 'aborted')}`);
}
