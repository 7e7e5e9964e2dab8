/**
 * Sink commit → source acknowledgement, once for every source that must not lose what it read (a
 * broker's durable consumer, a stream's consumer group).
 *
 * A source pushes a group of messages, then hands the push's promise and the messages to `track`.
 * Once the push resolved, `track` asks the pipeline for `settled()` — which resolves when every
 * event pushed so far on this thread is written or dead-lettered — and only then calls the
 * source's `ack` with the messages. Nothing is acknowledged before its sink commit, so a process
 * killed at any instant leaves every unacknowledged message with the broker, which delivers it
 * again; the sink's dedup by event id absorbs the repeat.
 *
 * `pending` counts messages read but not yet acknowledged, so a source can bound what it holds
 * (`whenBelow`) — and through that, how much it asks the broker for.
 */
import type { Logger } from 'pino';

export interface AckTarget {
  settled(): Promise<void>;
}

/** What to do with messages whose events were not accepted (a drop policy discarded them). */
export type RefusedHandler<M> = (messages: readonly M[]) => Promise<void> | void;

export class SourceAcks<M> {
  readonly #target: AckTarget;
  readonly #ack: (messages: readonly M[]) => Promise<void> | void;
  readonly #logger: Logger | undefined;
  #pending = 0;
  #acked = 0;
  #failedAcks = 0;
  /** Acknowledgements under way: settled, `ack` called, not yet answered. */
  readonly #acking = new Set<Promise<void>>();
  #roomWaiters: { limit: number; resolve: () => void }[] = [];
  #abandoned = false;

  constructor(target: AckTarget, ack: (messages: readonly M[]) => Promise<void> | void, logger?: Logger) {
    this.#target = target;
    this.#ack = ack;
    this.#logger = logger;
  }

  /** Messages read and not yet acknowledged (pushing, in the ring, or being acknowledged). */
  get pending(): number {
    return this.#pending;
  }

  /** Messages acknowledged so far. */
  get acked(): number {
    return this.#acked;
  }

  /** Acknowledgements the broker refused or that failed to send (the messages come back). */
  get failedAcks(): number {
    return this.#failedAcks;
  }

  /**
   * Acknowledges `messages` once `pushed` resolved and the pipeline settled everything pushed until
   * then. A push that rejects (the pipeline closed, an invalid record) acknowledges nothing: the
   * messages stay with the broker.
   */
  track(pushed: Promise<unknown>, messages: readonly M[]): void {
    if (messages.length === 0) return;
    this.#pending += messages.length;
    pushed
      .then(() => this.#target.settled())
      .then(
        () => this.#acknowledge(messages),
        (error: unknown) => {
          this.#logger?.warn(
            { err: error, messages: messages.length },
            'push failed; the messages stay unacknowledged for redelivery',
          );
          this.#done(messages.length);
        },
      );
  }

  #acknowledge(messages: readonly M[]): void {
    if (this.#abandoned) {
      this.#done(messages.length);
      return;
    }
    const acking = (async () => {
      try {
        await this.#ack(messages);
        this.#acked += messages.length;
      } catch (error) {
        this.#failedAcks += messages.length;
        // The broker delivers them again and the sink's dedup absorbs the repeat: no loss.
        this.#logger?.warn(
          { err: error, messages: messages.length },
          'acknowledgement failed; the messages will be delivered again',
        );
      } finally {
        this.#done(messages.length);
      }
    })();
    this.#acking.add(acking);
    void acking.finally(() => this.#acking.delete(acking));
  }

  #done(count: number): void {
    this.#pending -= count;
    if (this.#roomWaiters.length === 0) return;
    this.#roomWaiters = this.#roomWaiters.filter((waiter) => {
      if (this.#pending > waiter.limit) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves once at most `limit` messages are pending, or `signal` aborted. */
  whenBelow(limit: number, signal?: AbortSignal): Promise<void> {
    if (this.#pending <= limit || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = { limit, resolve };
      this.#roomWaiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          this.#roomWaiters = this.#roomWaiters.filter((w) => w !== waiter);
          resolve();
        },
        { once: true },
      );
    });
  }

  /**
   * Call after the pipeline closed: waits for the acknowledgements of everything the close settled,
   * and gives up on the rest (a close that timed out left them in the ring; the broker keeps them).
   */
  async finish(): Promise<void> {
    // Settlements that happened during the close continue as promise reactions (microtasks); one
    // macrotask turn lets each of them reach `#acknowledge` before we look.
    await new Promise((resolve) => setImmediate(resolve));
    this.#abandoned = true;
    while (this.#acking.size > 0) await Promise.all([...this.#acking]);
  }
}
