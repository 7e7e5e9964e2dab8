import type { LatencySummary } from './bench-report.js';

/**
 * A log-linear latency histogram in shared memory: buckets 1 % wide from 1 µs to ~3 hours, so any
 * thread can record and the main thread reads percentiles with no message per event. Recorders
 * count locally and flush per batch (one Atomics.add per touched bucket), keeping the hot path free
 * of shared-memory traffic.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
export const HISTOGRAM_BUCKETS = 2400;
/** Slot 0 counts values under 1 µs; the last slot everything beyond the range. */
const MIN_US = 1;

function bucketOf(micros: number): number {
  if (!(micros >= MIN_US)) return 0;
  const b = 1 + Math.floor(Math.log(micros / MIN_US) / LOG_GROWTH);
  return b >= HISTOGRAM_BUCKETS ? HISTOGRAM_BUCKETS - 1 : b;
}

/** Upper bound of a bucket, µs. */
function bucketCeiling(bucket: number): number {
  return bucket === 0 ? MIN_US : MIN_US * GROWTH ** bucket;
}

export class SharedHistogram {
  readonly buffer: SharedArrayBuffer;
  readonly #counts: Int32Array;
  /** Exact maximum in µs, kept with a CAS loop on flush. */
  readonly #max: Int32Array;
  readonly #local = new Int32Array(HISTOGRAM_BUCKETS);
  #localMax = 0;
  #dirty = false;

  constructor(buffer = new SharedArrayBuffer((HISTOGRAM_BUCKETS + 1) * 4)) {
    this.buffer = buffer;
    this.#counts = new Int32Array(buffer, 0, HISTOGRAM_BUCKETS);
    this.#max = new Int32Array(buffer, HISTOGRAM_BUCKETS * 4, 1);
  }

  /** Records one latency in milliseconds (locally, until flush). */
  recordMs(ms: number): void {
    const micros = ms * 1000;
    this.#local[bucketOf(micros)]!++;
    if (micros > this.#localMax) this.#localMax = micros;
    this.#dirty = true;
  }

  /** Adds the local counts to the shared buckets. */
  flush(): void {
    if (!this.#dirty) return;
    const local = this.#local;
    for (let b = 0; b < HISTOGRAM_BUCKETS; b++) {
      const n = local[b]!;
      if (n !== 0) {
        Atomics.add(this.#counts, b, n);
        local[b] = 0;
      }
    }
    const max = Math.min(Math.ceil(this.#localMax), 0x7fffffff);
    // Raise the shared maximum only upwards; a lost CAS race means another thread raised it.
    for (let seen = Atomics.load(this.#max, 0); max > seen; seen = Atomics.load(this.#max, 0)) {
      if (Atomics.compareExchange(this.#max, 0, seen, max) === seen) break;
    }
    this.#localMax = 0;
    this.#dirty = false;
  }

  /** Values recorded and flushed so far. */
  count(): number {
    let n = 0;
    for (let b = 0; b < HISTOGRAM_BUCKETS; b++) n += Atomics.load(this.#counts, b);
    return n;
  }

  /** The value at quantile q (0..1), ms; each bucket reports its upper bound (≤ 1 % high). */
  quantileMs(q: number): number {
    const total = this.count();
    if (total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    for (let b = 0; b < HISTOGRAM_BUCKETS; b++) {
      seen += Atomics.load(this.#counts, b);
      if (seen >= rank) return Math.min(bucketCeiling(b), this.maxMs() * 1000 || Infinity) / 1000;
    }
    return this.maxMs();
  }

  maxMs(): number {
    return Atomics.load(this.#max, 0) / 1000;
  }

  summary(): LatencySummary {
    return {
      p50: this.quantileMs(0.5),
      p90: this.quantileMs(0.9),
      p99: this.quantileMs(0.99),
      p999: this.quantileMs(0.999),
      max: this.maxMs(),
    };
  }

  reset(): void {
    for (let b = 0; b < HISTOGRAM_BUCKETS; b++) Atomics.store(this.#counts, b, 0);
    Atomics.store(this.#max, 0, 0);
  }
}
