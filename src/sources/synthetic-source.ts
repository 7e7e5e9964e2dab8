import { setTimeout as sleep } from 'node:timers/promises';
import type { SluiceEvent } from '../codec/event.js';
import { type SourceTarget, StoppableSource } from './source.js';

export interface SyntheticSourceOptions {
  /** Events per second, or `max`: as fast as the pipeline accepts them. @default 'max' */
  rate?: number | 'max';
  /** Stop after this many events; omitted: run until stopped. */
  events?: number;
  /** Distinct keys the events spread over. @default 16 */
  keys?: number;
}

export const DEFAULT_SYNTHETIC_SOURCE_OPTIONS: Readonly<Required<Omit<SyntheticSourceOptions, 'events'>>> =
  Object.freeze({ rate: 'max', keys: 16 });

/** Events pushed per pushMany call at most. */
const CHUNK = 500;
/** How often a rate-limited source wakes up to push what is due, ms. */
const TICK_MS = 10;

/**
 * Generated events `{ id, key, payload: { n, value } }`: ids unique per run (a random run prefix and a
 * sequence number), keys `key-0` … `key-(keys-1)` in turn.
 */
export class SyntheticSource extends StoppableSource {
  readonly #rate: number | 'max';
  readonly #events: number;
  readonly #keys: number;
  readonly #prefix = `syn-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-`;
  #pushed = 0;

  constructor(options: SyntheticSourceOptions = {}) {
    super();
    this.#rate = options.rate ?? DEFAULT_SYNTHETIC_SOURCE_OPTIONS.rate;
    this.#events = options.events ?? Number.POSITIVE_INFINITY;
    this.#keys = options.keys ?? DEFAULT_SYNTHETIC_SOURCE_OPTIONS.keys;
  }

  /** Events the pipeline accepted so far. */
  get pushed(): number {
    return this.#pushed;
  }

  protected async run(target: SourceTarget, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    let made = 0;
    while (!signal.aborted && made < this.#events) {
      let due = Math.min(CHUNK, this.#events - made);
      if (this.#rate !== 'max') {
        const owed = Math.floor(((performance.now() - started) / 1000) * this.#rate) - made;
        due = Math.min(due, owed);
        if (due <= 0) {
          await sleep(TICK_MS, undefined, { signal }).catch(() => undefined);
          continue;
        }
      }
      const events: SluiceEvent[] = [];
      for (let i = 0; i < due; i++, made++) {
        events.push({
          id: `${this.#prefix}${made}`,
          key: `key-${made % this.#keys}`,
          source: 'synthetic',
          ts: Date.now(),
          payload: { n: made, value: Math.random() },
        });
      }
      this.#pushed += await target.pushMany(events);
      // A pushMany into a ring with room resolves without leaving the microtask queue; yield so
      // signals, timers and the metrics server get their turn.
      if (this.#rate === 'max') await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}
