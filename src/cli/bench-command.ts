import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_WORKER_OPTIONS } from '../config/pipeline-options.js';
import { InvalidOptionError } from '../errors.js';
import type { BenchEnvironment, BenchReport, SystemResult } from '../harness/bench-report.js';
import { runBench, SYSTEMS } from '../harness/run-bench.js';
import type { Progress } from '../harness/run-settings.js';
import { SCENARIOS } from '../harness/scenarios/scenarios.js';
import { EXIT_EVENTS_LOST, EXIT_OK } from './exit-codes.js';
import { formatTable } from './format-table.js';
import { parseFlags } from './parse-flags.js';

export const BENCH_HELP = `Usage: sluice bench [options]

Runs one scenario through Sluice and its baselines, one after the other in this process, on the
same workload and accounting, and reports throughput, end-to-end latency (push → sink
acknowledgement, coordinated omission corrected), memory, and lost/duplicated events by id.

Options:
  --scenario NAME     ${Object.keys(SCENARIOS).join(', ')} (default: sqlite)
  --duration S        seconds each system produces load (default: 10)
  --rate N|max        offered events/s, open loop; max = closed loop, as fast as accepted (default: max)
  --workers N         worker threads for the engine and piscina-per-event (default: CPUs = ${availableParallelism()})
  --producers N       producer threads feeding the engine (default: 2)
  --sink KIND         null, sqlite or postgres (default: the scenario's; postgres reads DATABASE_URL)
  --systems LIST      comma-separated: ${Object.keys(SYSTEMS).join(', ')} (default: all)
  --json FILE         write the report as JSON
  --out DIR           write a Markdown report with SVG charts (and profiles) into DIR
  --sweep             also measure throughput and latency at 10 %…120 % of the engine's maximum rate
  --profile           write V8 CPU profiles (.cpuprofile) of the main thread and every worker into --out
  --serve HOST:PORT   serve the engine's live dashboard, /metrics, /healthz, /readyz while it runs
  --metrics on|off    the engine's metrics recording (default: on; off measures its cost)
  --young-generation-mb N
                      V8 young generation of each engine worker and producer thread, MiB
                      (workers.maxYoungGenerationSizeMb; default 24; 0 = V8's default)
  -h, --help          show this help
`;

export interface BenchCommandOptions {
  scenario: string;
  durationMs: number;
  rate: number | 'max';
  workers: number;
  producers: number;
  sink: 'null' | 'sqlite' | 'postgres' | undefined;
  systems: string[];
  json: string | undefined;
  out: string | undefined;
  sweep: boolean;
  profile: boolean;
  serve: string | undefined;
  metrics: boolean;
  youngGenerationMb: number;
}

function positive(flag: string, value: string, integer: boolean): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new InvalidOptionError(flag, integer ? 'a positive integer' : 'a positive number', value);
  }
  return n;
}

/** Parses and validates `sluice bench` flags; errors name the flag and quote the value. */
export function parseBenchArgs(argv: string[]): BenchCommandOptions | 'help' {
  const values = parseFlags(
    argv,
    {
      scenario: { type: 'string' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      workers: { type: 'string' },
      producers: { type: 'string' },
      sink: { type: 'string' },
      systems: { type: 'string' },
      json: { type: 'string' },
      out: { type: 'string' },
      sweep: { type: 'boolean' },
      profile: { type: 'boolean' },
      serve: { type: 'string' },
      metrics: { type: 'string' },
      'young-generation-mb': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    'sluice bench --help',
  );
  if (values.help) return 'help';
  const scenario = (values.scenario as string | undefined) ?? 'sqlite';
  if (!(scenario in SCENARIOS))
    throw new InvalidOptionError('--scenario', `one of ${Object.keys(SCENARIOS).join(', ')}`, scenario);
  const rateText = (values.rate as string | undefined) ?? 'max';
  const rate = rateText === 'max' ? 'max' : positive('--rate', rateText, false);
  const sink = values.sink as string | undefined;
  if (sink !== undefined && !['null', 'sqlite', 'postgres'].includes(sink)) {
    throw new InvalidOptionError('--sink', 'null, sqlite or postgres', sink);
  }
  const systems = ((values.systems as string | undefined) ?? Object.keys(SYSTEMS).join(','))
    .split(',')
    .filter(Boolean);
  for (const system of systems) {
    if (!(system in SYSTEMS))
      throw new InvalidOptionError('--systems', `a list of ${Object.keys(SYSTEMS).join(', ')}`, system);
  }
  if (systems.length === 0) {
    throw new InvalidOptionError(
      '--systems',
      `a non-empty list of ${Object.keys(SYSTEMS).join(', ')}`,
      values.systems,
    );
  }
  if ((sink ?? SCENARIOS[scenario]!.sink) === 'postgres' && !process.env.DATABASE_URL) {
    throw new InvalidOptionError(
      '--sink postgres',
      'used with DATABASE_URL set to a connection string',
      process.env.DATABASE_URL,
    );
  }
  if (values.profile && !values.out) throw new InvalidOptionError('--profile', 'used with --out DIR', true);
  const serve = values.serve as string | undefined;
  const metrics = (values.metrics as string | undefined) ?? 'on';
  if (metrics !== 'on' && metrics !== 'off')
    throw new InvalidOptionError('--metrics', "'on' or 'off'", metrics);
  const youngText =
    (values['young-generation-mb'] as string | undefined) ??
    String(DEFAULT_WORKER_OPTIONS.maxYoungGenerationSizeMb);
  const youngGenerationMb = Number(youngText);
  if (!Number.isInteger(youngGenerationMb) || youngGenerationMb < 0 || youngGenerationMb > 1024) {
    throw new InvalidOptionError('--young-generation-mb', 'an integer from 0 to 1024', youngText);
  }
  if (serve !== undefined && !/^[^:]+:\d+$/.test(serve))
    throw new InvalidOptionError('--serve', 'HOST:PORT', serve);
  return {
    scenario,
    durationMs: positive('--duration', (values.duration as string | undefined) ?? '10', false) * 1000,
    rate,
    workers: positive(
      '--workers',
      (values.workers as string | undefined) ?? String(availableParallelism()),
      true,
    ),
    producers: positive('--producers', (values.producers as string | undefined) ?? '2', true),
    sink: sink as BenchCommandOptions['sink'],
    systems,
    json: values.json as string | undefined,
    out: values.out as string | undefined,
    sweep: Boolean(values.sweep),
    profile: Boolean(values.profile),
    serve,
    metrics: metrics === 'on',
    youngGenerationMb,
  };
}

function progressLine(p: Progress): string {
  const elapsed = Math.min(p.elapsedMs, p.durationMs) / 1000;
  const rate = p.elapsedMs > 0 ? (p.acknowledged / p.elapsedMs) * 1000 : 0;
  return (
    `${p.system.padEnd(18)} ${elapsed.toFixed(1)}/${(p.durationMs / 1000).toFixed(0)} s  ` +
    `${Math.round(rate).toLocaleString('en-US').padStart(11)} events/s  p99 ${p.p99Ms.toFixed(2)} ms  ` +
    `queue ${p.queueDepth.toLocaleString('en-US')}`
  );
}

/** The summary printed at the end: one row per system, ratios of the engine to each baseline. */
export function summaryTable(report: BenchReport): string {
  const rows = report.results.map((r: SystemResult) => ({
    system: r.system,
    'events/s': Math.round(r.eventsPerSec).toLocaleString('en-US'),
    'p50 ms': r.latencyMs.p50.toFixed(2),
    'p99 ms': r.latencyMs.p99.toFixed(2),
    'p99.9 ms': r.latencyMs.p999.toFixed(2),
    'max ms': r.latencyMs.max.toFixed(1),
    'peak RSS MiB': r.peakRssMiB.toFixed(0),
    'CPU µs/event': r.cpuUsPerEvent === undefined ? '—' : r.cpuUsPerEvent.toFixed(2),
    'RSS 1st→4th qtr MiB': r.rss
      ? `${r.rss.firstQuarterMiB.toFixed(0)}→${r.rss.lastQuarterMiB.toFixed(0)}`
      : '—',
    'max queue': r.maxQueueDepth.toLocaleString('en-US'),
    lost: String(r.lost),
    dup: String(r.duplicates),
    dead: String(r.deadLettered),
  }));
  const engine = report.results.find((r) => r.system === 'engine');
  const ratios = engine
    ? report.results
        .filter((r) => r !== engine && r.eventsPerSec > 0)
        .map((r) => `engine / ${r.system}: ${(engine.eventsPerSec / r.eventsPerSec).toFixed(2)}×`)
    : [];
  return `${formatTable(rows)}\n${ratios.join('   ')}`;
}

/**
 * `--profile`: runs the same command again under `--cpu-prof`, which profiles the main thread and
 * every worker thread. The main thread's profile is written only when that process exits, so the
 * report is completed here, afterwards, with the full list.
 */
async function reRunWithProfiler(argv: string[], options: BenchCommandOptions): Promise<number> {
  const out = options.out!;
  const dir = resolve(out, 'profiles');
  mkdirSync(dir, { recursive: true });
  const args = [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    process.argv[1]!,
    'bench',
    ...argv.filter((a) => a !== '--profile'),
  ];
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  const code = await new Promise<number>((done) => child.on('exit', (c) => done(c ?? 1)));
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const reportFile = join(out, 'report.json');
  if (existsSync(reportFile)) {
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as BenchReport;
    report.profiles = files.map((f) => join('profiles', f));
    const { writeReport } = await import('../harness/report/write-report.js');
    await writeReport(report, out);
    if (options.json) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  console.log('\nCPU profiles (main thread and every worker thread; open in Chrome DevTools or speedscope):');
  for (const file of files) console.log(`  ${join(dir, file)}`);
  return code;
}

/** `sluice bench`: returns the process exit code. */
export async function benchCommand(argv: string[], env: BenchEnvironment): Promise<number> {
  const options = parseBenchArgs(argv);
  if (options === 'help') {
    process.stdout.write(BENCH_HELP);
    return EXIT_OK;
  }
  if (options.profile) return reRunWithProfiler(argv, options);
  const scenario = SCENARIOS[options.scenario]!;
  const tty = process.stdout.isTTY === true;
  console.log(
    `sluice bench — scenario ${scenario.name}: ${scenario.description}\n` +
      `Node ${env.node}, ${env.cpus} CPUs, ${options.workers} workers, ${options.producers} producer thread(s), ` +
      `${options.durationMs / 1000} s per system, rate ${options.rate}, commit ${env.commit}`,
  );
  const report = await runBench({
    scenario,
    durationMs: options.durationMs,
    rate: options.rate,
    workers: options.workers,
    producers: options.producers,
    sink: options.sink ?? scenario.sink,
    systems: options.systems,
    sweep: options.sweep,
    env,
    metrics: options.metrics,
    youngGenerationMb: options.youngGenerationMb,
    ...(options.serve ? { serve: options.serve } : {}),
    ...(tty ? { onProgress: (p: Progress) => process.stdout.write(`\r\x1b[2K${progressLine(p)}`) } : {}),
    onResult: (r) => {
      if (tty) process.stdout.write('\r\x1b[2K');
      console.log(
        `${r.system}: ${Math.round(r.eventsPerSec).toLocaleString('en-US')} events/s, p99 ${r.latencyMs.p99.toFixed(2)} ms, lost ${r.lost}, duplicates ${r.duplicates}`,
      );
    },
  });
  console.log(`\n${summaryTable(report)}`);
  if (options.json) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  if (options.out) {
    const { writeReport } = await import('../harness/report/write-report.js');
    const written = await writeReport(report, options.out);
    console.log(`report: ${written.markdown}`);
  }
  const lost = report.results.reduce((n, r) => n + r.lost, 0);
  return lost > 0 ? EXIT_EVENTS_LOST : EXIT_OK;
}
