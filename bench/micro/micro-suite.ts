import { Bench } from 'tinybench';

/** Benchmarked code adds its results here, so the optimiser cannot drop the work as unused. */
export const blackhole = { value: 0 };

/** One comparison: a case and the baseline it is judged against, measured in the same run. */
export interface MicroCase {
  name: string;
  baseline: string;
  fn: () => void;
  baselineFn: () => void;
}

export interface MicroResult {
  name: string;
  baseline: string;
  medianNs: number;
  baselineMedianNs: number;
  /** How many times slower than the baseline the case is (< 1: faster). */
  ratio: number;
}

/** Runs each case beside its baseline with tinybench and returns medians per operation. */
export async function runMicro(title: string, cases: MicroCase[], timeMs = 500): Promise<MicroResult[]> {
  const bench = new Bench({ name: title, time: timeMs, warmup: true });
  for (const c of cases) {
    bench.add(c.name, c.fn);
    bench.add(`${c.name} · baseline: ${c.baseline}`, c.baselineFn);
  }
  await bench.run();
  const p50 = (name: string): number => {
    const task = bench.getTask(name);
    const result = task?.result;
    if (!result || !('latency' in result)) throw new Error(`benchmark ${name} did not complete`);
    return result.latency.p50 * 1e6;
  };
  return cases.map((c) => {
    const medianNs = p50(c.name);
    const baselineMedianNs = p50(`${c.name} · baseline: ${c.baseline}`);
    return {
      name: c.name,
      baseline: c.baseline,
      medianNs,
      baselineMedianNs,
      ratio: medianNs / baselineMedianNs,
    };
  });
}
