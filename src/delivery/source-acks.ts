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

/**
 * What to do with messages that will not be acknowledged — their push failed, or did not accept
 * them all (a drop policy discarded some, and which is not known): a source may ask the broker to
 * deliver them again sooner (JetStream `nak`).
 */
export type RefusedHandler<M> = (messages: readonly M[]) => Promise<void> | void;

export class SourceAcks<M> {
  readonly #target: AckTarget;
  readonly #ack: (messages: readonly M[]) => Promise<void> | void;
  readonly #logger: Logger | undefined;
  readonly #refuse: RefusedHandler<M> | undefined;
  #pending = 0;
  #refused = 0;
  #acked = 0;
  #failedAcks = 0;
  /** Acknowledgements under way: settled, `ack` called, not yet answered. */
  readonly #acking = new Set<Promise<void>>();
  #roomWaiters: { limit: number; resolve: () => void }[] = [];
  #abandoned = false;

  constructor(
    target: AckTarget,
    ack: (messages: readonly M[]) => Promise<void> | void,
    logger?: Logger,
    refuse?: RefusedHandler<M>,
  ) {
    this.#target = target;
    this.#ack = ack;
    this.#logger = logger;
    this.#refuse = refuse;
  }

  /** Messages read and not yet acknowledged (pushing, in the ring, or being acknowledged). */
  get pending(): number {
    return this.#pending;
  }

  /** Messages acknowledged so far. */
  get acked(): number {
    return this.#acked;
  }

  /** Messages left unacknowledged because their push did not accept every event (drop policies). */
  get refused(): number {
    return this.#refused;
  }

  /** Acknowledgements the broker refused or that failed to send (the messages come back). */
  get failedAcks(): number {
    return this.#failedAcks;
  }

  /**
   * Acknowledges `messages` once `pushed` resolved — with all of them accepted — and the pipeline
   * settled everything pushed until then. A push that rejects (the pipeline closed, an invalid
   * record) or accepted fewer acknowledges nothing: the messages stay with the broker.
   */
  track(pushed: Promise<number | boolean>, messages: readonly M[]): void {
    if (messages.length === 0) return;
    this.#pending += messages.length;
    pushed.then(
      async (accepted) => {
        if (accepted === true || accepted === messages.length) {
          await this.#target.settled();
          this.#acknowledge(messages);
          return;
        }
        // A drop policy discarded some events of the push, and which is not known: none of its
        // messages is acknowledged, so the broker delivers them all again (dedup absorbs repeats).
        this.#refused += messages.length;
        await this.#giveBack(messages, { accepted }, 'the queue dropped events of a push');
      },
      (error: unknown) => this.#giveBack(messages, { err: error }, 'push failed'),
    );
  }

  /** Leaves messages unacknowledged, telling the source (which may ask for them again sooner). */
  async #giveBack(messages: readonly M[], fields: object, why: string): Promise<void> {
    this.#logger?.warn(
      { ...fields, messages: messages.length },
      `${why}; the messages stay unacknowledged for redelivery`,
    );
    try {
      await this.#refuse?.(messages);
    } catch (error) {
      this.#logger?.warn({ err: error }, 'giving refused messages back failed');
    } finally {
      this.#done(messages.length);
    }
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
