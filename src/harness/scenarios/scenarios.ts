import type { Scenario } from '../scenario.js';

const transform = (name: string) => new URL(`./transforms/${name}.js`, import.meta.url);

/** Every scenario `sluice bench --scenario NAME` knows, named by what flows. */
export const SCENARIOS: Record<string, Scenario> = {
  trivial: {
    name: 'trivial',
    description: 'objects pushed, add one field (a lazy payload: spliced into its JSON), null sink',
    transform: transform('add-field'),
    raw: false,
    sink: 'null',
  },
  bytes: {
    name: 'bytes',
    description: 'NDJSON lines via pushRaw; parse + validate + add a field + serialise; null sink',
    transform: transform('parse-validate'),
    raw: true,
    sink: 'null',
  },
  'cpu-heavy': {
    name: 'cpu-heavy',
    description: 'about 20 µs of CPU per event (SHA-256 rounds + a regex parse); null sink',
    transform: transform('cpu-heavy'),
    raw: false,
    sink: 'null',
  },
  'flaky-sink': {
    name: 'flaky-sink',
    description: 'a sink taking 1–5 ms per batch and failing 15 % of writes transiently; retries on',
    transform: transform('add-field'),
    raw: false,
    sink: 'null',
    flaky: { failRate: 0.15, minDelayMs: 1, maxDelayMs: 5 },
    retry: { initialDelayMs: 1, maxDelayMs: 50, maxAttempts: 50 },
  },
  overload: {
    name: 'overload',
    description: 'producers at 10× what the sink can take, for the whole run',
    transform: transform('add-field'),
    raw: false,
    sink: 'null',
    msPerBatch: 20,
    overloadFactor: 10,
  },
  ring: {
    name: 'ring',
    description: 'the ring transport: 128-byte records, main thread → one consumer thread, vs postMessage',
    transform: transform('add-field'),
    raw: false,
    sink: 'null',
    transport: true,
  },
  sqlite: {
    name: 'sqlite',
    description:
      'objects pushed, add one field (a lazy payload: spliced into its JSON), the SQLite sink (embedded default)',
    transform: transform('add-field'),
    raw: false,
    sink: 'sqlite',
  },
  postgres: {
    name: 'postgres',
    description:
      'objects pushed, add one field (a lazy payload: spliced into its JSON), the PostgreSQL sink (DATABASE_URL)',
    transform: transform('add-field'),
    raw: false,
    sink: 'postgres',
  },
};
