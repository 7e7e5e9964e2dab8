import { writeFileSync } from 'node:fs';
import { benchEnv, flag } from '../lib/env.js';
import { codecCases } from './codec.bench.js';
import { type MicroResult, runMicro } from './micro-suite.js';
import { ringCases } from './ring.bench.js';
import { workerPathCases } from './worker-path.bench.js';

const env = benchEnv();
const results: MicroResult[] = [
  ...(await runMicro('codec', codecCases())),
  ...(await runMicro('ring', ringCases())),
  ...(await runMicro('worker path', workerPathCases())),
];

console.log(
  `Node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), commit ${env.commit}; medians per operation`,
);
console.table(
  results.map((r) => ({
    case: r.name,
    'median ns': r.medianNs.toFixed(0),
    baseline: r.baseline,
    'baseline ns': r.baselineMedianNs.toFixed(0),
    'case / baseline': r.ratio.toFixed(2),
  })),
);
const json = flag('json');
if (json) writeFileSync(json, `${JSON.stringify({ env, results }, null, 2)}\n`);
