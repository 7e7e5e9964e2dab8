import { parseArgs } from 'node:util';

export const WORKLOADS = ['ndjson', 'cpu-heavy', 'sqlite'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export const USAGE = `npm run bench:postgres-load -- [options]

  --workload NAME   ndjson (default): an NDJSON file into PostgreSQL, Sluice beside psql, Node and Python loaders
                    cpu-heavy: a ~25 µs/event transform into PostgreSQL, Sluice beside BullMQ
                    sqlite: sluice bench --scenario sqlite beside the SQLite single-writer ceiling
  --systems LIST    comma-separated subset of the workload's systems (default: all)
  --events N        events per run (default: 200000 for ndjson and sqlite, 100000 for cpu-heavy)
  --rounds R        rounds; each runs every system once, the order rotated (default: 3)
  --startup-rounds R
                    ndjson: rounds of every system on a one-line file after the main rounds, to time
                    what does not depend on the lines (default: --rounds; 0: none)
  --quick           20000 events, 1 round (sqlite: 2 s per sluice bench system)
  --duration S      sqlite: seconds per system of sluice bench (default: 10)
  --timeout-s S     any process of a run is killed past this (default: 600)
  --json FILE       every figure, with the Node version, CPUs, commit and date
  -h, --help

POSTGRES_URL or DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and REDIS_URL
(default redis://127.0.0.1:6379) must point at this machine: the servers' CPU is read from /proc.`;

export interface LoadFlags {
  workload: WorkloadName;
  systems: string[] | undefined;
  events: number;
  rounds: number;
  /** ndjson: rounds on a one-line file, after the main ones (0: none). */
  startupRounds: number;
  durationS: number;
  timeoutMs: number;
  json: string | undefined;
  quick: boolean;
}

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

function wholeNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a whole number (0 or more), got ${JSON.stringify(text)}`);
  return n;
}

/** The flags, validated; undefined for --help. */
export function parseLoadFlags(argv: string[]): LoadFlags | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      workload: { type: 'string' },
      systems: { type: 'string' },
      events: { type: 'string' },
      rounds: { type: 'string' },
      'startup-rounds': { type: 'string' },
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      'timeout-s': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  const workload = (values.workload ?? 'ndjson') as WorkloadName;
  if (!WORKLOADS.includes(workload))
    throw new Error(
      `--workload must be one of ${WORKLOADS.join(', ')}, got ${JSON.stringify(values.workload)}`,
    );
  const quick = values.quick === true;
  const defaultEvents = quick ? 20_000 : workload === 'cpu-heavy' ? 100_000 : 200_000;
  const rounds = positiveInteger('rounds', values.rounds, quick ? 1 : 3);
  return {
    workload,
    systems: values.systems?.split(',').filter(Boolean),
    events: positiveInteger('events', values.events, defaultEvents),
    rounds,
    startupRounds: wholeNumber('startup-rounds', values['startup-rounds'], rounds),
    durationS: positiveInteger('duration', values.duration, quick ? 2 : 10),
    timeoutMs: positiveInteger('timeout-s', values['timeout-s'], 600) * 1000,
    json: values.json,
    quick,
  };
}

/** Whether a URL's host is this machine: the only servers the benchmark may load. */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
