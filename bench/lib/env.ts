/** Where a figure was measured, the script's flags and medians: the harness's, shared by every benchmark. */
export { type BenchEnv, benchEnv, flag, median } from '../../src/harness/script-env.js';
