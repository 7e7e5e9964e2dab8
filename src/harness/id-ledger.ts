/**
 * Counts, per event sequence number, how many times a sink acknowledged it — in shared memory, so
 * sinks in any thread record and the harness reads `lost` and `duplicates` by id afterwards.
 * Benchmark event ids are `<prefix><seq>`; one byte per event (saturating at 255).
 */
const CANONICAL_SEQ = /^(0|[1-9]\d{0,14})$/;

export class IdLedger {
  readonly buffer: SharedArrayBuffer;
  readonly prefix: string;
  readonly #counts: Uint8Array;

  constructor(capacity: number, prefix: string, buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(capacity);
    this.prefix = prefix;
    this.#counts = new Uint8Array(this.buffer);
  }

  get capacity(): number {
    return this.#counts.length;
  }

  /** The id of event `seq`. */
  id(seq: number): string {
    return `${this.prefix}${seq}`;
  }

  /** Counts one acknowledgement of `id`; ids from elsewhere (e.g. `id:k` of a flatMap) are ignored. */
  record(id: string): void {
    if (!id.startsWith(this.prefix)) return;
    const rest = id.slice(this.prefix.length);
    // Only canonical decimals: Number() would also take '', '0x10', '1e1' or ' 5'.
    if (!CANONICAL_SEQ.test(rest)) return;
    const seq = Number(rest);
    if (seq >= this.#counts.length) return;
    // Different threads acknowledge different ids almost always; the add keeps a rare
    // redelivery racing its original from losing a count.
    if (Atomics.load(this.#counts, seq) < 255) Atomics.add(this.#counts, seq, 1);
  }

  /**
   * Accounting over the accepted sequence numbers — `[start, count]` blocks, one per producer —
   * against the dead letters recorded in another ledger.
   */
  account(
    blocks: readonly (readonly [number, number])[],
    deadLettered: IdLedger | undefined,
  ): { acknowledged: number; lost: number; duplicates: number; deadLettered: number } {
    let acknowledged = 0;
    let lost = 0;
    let duplicates = 0;
    let dead = 0;
    const letters = deadLettered ? new Uint8Array(deadLettered.buffer) : undefined;
    const inBlock = new Uint8Array(this.#counts.length);
    for (const [start, count] of blocks) {
      for (let seq = start; seq < start + count; seq++) {
        inBlock[seq] = 1;
        const n = Atomics.load(this.#counts, seq);
        const d = letters ? Atomics.load(letters, seq) : 0;
        if (n > 0) {
          acknowledged++;
          duplicates += n - 1;
        } else if (d > 0) dead++;
        else lost++;
      }
    }
    // An acknowledgement of something never accepted is a phantom event: count it as a duplicate.
    for (let seq = 0; seq < this.#counts.length; seq++) {
      if (inBlock[seq] === 0) duplicates += Atomics.load(this.#counts, seq);
    }
    return { acknowledged, lost, duplicates, deadLettered: dead };
  }
}
