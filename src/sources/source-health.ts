import type { Source, SourceHealth } from './source.js';

/**
 * Asks a source where it stands with its broker (Source.health) every `everyMs`, on a timer of its
 * own that never keeps the process alive, and keeps the last answer: scrapes, the dashboard and
 * `sluice top` read it without a request to the broker each. A question still unanswered when the
 * next is due is not asked again meanwhile.
 */
export class SourceHealthWatch {
  readonly #source: Required<Pick<Source, 'health'>>;
  readonly #everyMs: number;
  #latest: SourceHealth | undefined;
  #asking = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(source: Required<Pick<Source, 'health'>>, everyMs = 1000) {
    this.#source = source;
    this.#everyMs = everyMs;
  }

  start(): this {
    if (this.#timer) return this;
    void this.ask();
    this.#timer = setInterval(() => void this.ask(), this.#everyMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The last answer; undefined before the first one, or while the source is not connected. */
  get latest(): SourceHealth | undefined {
    return this.#latest;
  }

  /** Asks once now (unless a question is still out) and keeps the answer. */
  async ask(): Promise<void> {
    if (this.#asking) return;
    this.#asking = true;
    try {
      this.#latest = await this.#source.health();
    } catch (error) {
      // health() reports a broker it cannot ask in its answer; anything else keeps the last one.
      if (this.#latest)
        this.#latest = { ...this.#latest, error: error instanceof Error ? error.message : String(error) };
    } finally {
      this.#asking = false;
    }
  }
}
