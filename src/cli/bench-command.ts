import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_WORKER_OPTIONS } from '../config/pipeline-options.js';
import { InvalidOptionError } from '../errors.js';
import type { BenchEnvironment, BenchReport, SystemResult } from '../harness/bench-report.js';
import { configScenario } from '../harness/config-scenario.js';
import { stagesBar } from '../harness/engine-stages.js';
import { flameGraphSvg } from '../harness/report/flame-graph.js';
import {
  type CodeKinds,
  type CpuProfile,
  profileSummaryText,
  summarizeProfile,
} from '../harness/report/profile-summary.js';
import { CONFIG_SYSTEMS, OPT_IN_SYSTEMS, runBench, SYSTEMS } from '../harness/run-bench.js';
import type { Progress } from '../harness/run-settings.js';
import type { Scenario } from '../harness/scenario.js';
import { SCENARIOS } from '../harness/scenarios/scenarios.js';
import { isRecommended } from '../harness/tune.js';
import type { FsyncPolicy } from '../queue/disk-log.js';
import { EXIT_EVENTS_LOST, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { formatTable } from './format-table.js';
import { parseFlags } from './parse-flags.js';
import { loadConfigOrExit } from './run-command.js';

export const BENCH_HELP = `Usage: sluice bench [options]
       sluice bench --config pipeline.yaml [--events FILE.ndjson | --events-module M] [options]

Runs one scenario through Sluice and its baselines, one after the other in this process, on the
same workload and accounting, and reports throughput, end-to-end latency (push → sink
acknowledgement, coordinated omission corrected), memory, and lost/duplicated events by id.

With --config, the scenario is your own pipeline: the config \`sluice run\` takes (transform, sink,
deadLetter, queue, workers, batch, retry, ordering; its source only supplies events), run three
ways on the same events — the engine as configured; the same transform and sink in one thread
(single-thread); and the sink alone, fed records already transformed by one thread as fast as it
accepts them (sink-alone: its ceiling). The report then says what bounds the pipeline: the
transform, the sink, or Sluice's own overhead; where the engine's time goes (queue wait, decode +
transform, sink write per batch); and, for every system, the main thread's event-loop delay p99 and
CPU per event. Every event gets a run id (<run>-<n>, unique on every pass, so a deduplicating sink
stores each) and its intended send time as ts; events are counted by id at the sink, an event the
transform filters out as filtered, a flatMap's first output for its event. sink-alone always runs
as fast as the sink accepts (closed loop), whatever --rate says.

Options:
  --config FILE       benchmark the pipeline of this \`sluice run\` config (JSON or YAML; with
                      several routes: engine and single-thread, reported route by route)
  --events FILE       --config: NDJSON events, one per line, replayed in a loop (default: the
                      config's source, when it is synthetic or an ndjson file)
  --events-module M   --config: a module whose default export is a generator function yielding events
                      (objects { key?, payload } or NDJSON lines); restarted when it ends
  --tune              --config: also try worker counts 1…CPUs and batch sizes around the configured
                      one (engine only), and recommend the best throughput with p99 under the target
  --p99-target-ms N   --tune's latency target, ms (default: 100)
  --scenario NAME     ${Object.keys(SCENARIOS).join(', ')} (default: sqlite; not with --config)
  --duration S        seconds each system produces load (default: 10)
  --rounds N          run every system N times, the order rotated each round; report each system's
                      median round (lost and duplicates: every round's) and the engine's ratio to
                      each baseline round by round (default: 1; not with --scenario ring)
  --rate N|max        offered events/s, open loop; max = closed loop, as fast as accepted (default: max)
  --workers N         worker threads for the engine and piscina-per-event (default: CPUs = ${availableParallelism()};
                      with --config: the config's workers.max)
  --producers N       producer threads feeding the engine (default: 2)
  --sink KIND         null, sqlite, ndjson or postgres (default: the scenario's, or with --config the
                      configured sink and dead-letter sink; a swapped sink writes to a temporary
                      file, postgres to a temporary table in DATABASE_URL, dead letters to none)
  --systems LIST      comma-separated: ${Object.keys(SYSTEMS).join(', ')}
                      (with --config: ${Object.keys(CONFIG_SYSTEMS).join(', ')})
                      (default: all but ${[...OPT_IN_SYSTEMS].join(', ')})
  --durability KIND   memory or disk: disk also runs engine-disk, the engine on a disk queue
                      (queue.durability: disk, its backlog bounded at 4 rings), beside the engine
                      (default: memory)
  --fsync POLICY      engine-disk's fsync: group, interval or never (default: group)
  --json FILE         write the report as JSON
  --out DIR           write a Markdown report with SVG charts (and profiles) into DIR
  --sweep             also measure throughput and latency at 10 %…120 % of the engine's maximum rate
                      (every system but sink-alone)
  --profile           write V8 CPU profiles (.cpuprofile) of the main thread and every worker into --out,
                      named by thread (main, engine.worker-1, engine.producer-1, …), and report each
                      thread's top functions and its time in the transform, the sink, Sluice, GC, idle
  --serve HOST:PORT   serve the engine's live dashboard, /metrics, /healthz, /readyz while it runs
  --metrics on|off    the engine's metrics recording (default: on; off measures its cost)
  --young-generation-mb N
                      V8 young generation of each engine worker and producer thread, MiB
                      (workers.maxYoungGenerationSizeMb; default 24; 0 = V8's default)
  -h, --help          show this help
`;

export interface BenchCommandOptions {
  scenario: string;
  /** `--config FILE`: the user's pipeline. */
  config: string | undefined;
  events: string | undefined;
  eventsModule: string | undefined;
  tune: boolean;
  p99TargetMs: number;
  /** `--workers` as given (with --config, the config's workers.max otherwise). */
  workersGiven: boolean;
  /** --systems was given (not the default list). */
  systemsGiven: boolean;
  /** `--young-generation-mb` as given (with --config, the config's otherwise). */
  youngGenerationGiven: boolean;
  durationMs: number;
  /** --rounds: every system this many times, the order rotated. */
  rounds: number;
  rate: number | 'max';
  workers: number;
  producers: number;
  sink: 'null' | 'sqlite' | 'postgres' | 'ndjson' | undefined;
  systems: string[];
  json: string | undefined;
  out: string | undefined;
  sweep: boolean;
  profile: boolean;
  serve: string | undefined;
  metrics: boolean;
  youngGenerationMb: number;
  /** engine-disk's fsync policy. */
  diskFsync: FsyncPolicy;
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
      config: { type: 'string' },
      events: { type: 'string' },
      'events-module': { type: 'string' },
      tune: { type: 'boolean' },
      'p99-target-ms': { type: 'string' },
      scenario: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      rate: { type: 'string' },
      workers: { type: 'string' },
      producers: { type: 'string' },
      sink: { type: 'string' },
      systems: { type: 'string' },
      durability: { type: 'string' },
      fsync: { type: 'string' },
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
  const config = values.config as string | undefined;
  if (config !== undefined && config === '')
    throw new InvalidOptionError('--config', 'a JSON or YAML config file', config);
  if (config !== undefined && values.scenario !== undefined)
    throw new InvalidOptionError(
      '--scenario',
      'left out with --config (the config is the scenario)',
      values.scenario,
    );
  for (const flag of ['events', 'events-module', 'tune', 'p99-target-ms'] as const) {
    if (config === undefined && values[flag] !== undefined)
      throw new InvalidOptionError(`--${flag}`, 'used with --config FILE', values[flag]);
  }
  const events = values.events as string | undefined;
  const eventsModule = values['events-module'] as string | undefined;
  if (events !== undefined && eventsModule !== undefined)
    throw new InvalidOptionError(
      '--events-module',
      'left out when --events is given (one source of events)',
      eventsModule,
    );
  if (events === '') throw new InvalidOptionError('--events', 'an NDJSON file', events);
  if (eventsModule === '') throw new InvalidOptionError('--events-module', 'a module path', eventsModule);
  const p99Text = values['p99-target-ms'] as string | undefined;
  const p99TargetMs = p99Text === undefined ? 100 : positive('--p99-target-ms', p99Text, false);
  if (p99Text !== undefined && !values.tune)
    throw new InvalidOptionError('--p99-target-ms', 'used with --tune', p99Text);
  const scenario = (values.scenario as string | undefined) ?? 'sqlite';
  if (!(scenario in SCENARIOS))
    throw new InvalidOptionError('--scenario', `one of ${Object.keys(SCENARIOS).join(', ')}`, scenario);
  const roundsText = (values.rounds as string | undefined) ?? '1';
  const rounds = positive('--rounds', roundsText, true);
  // The ring scenario is one transport run, not systems run in turn: nothing to rotate.
  if (rounds > 1 && config === undefined && SCENARIOS[scenario]!.transport)
    throw new InvalidOptionError('--rounds', `1 with --scenario ${scenario}`, roundsText);
  const rateText = (values.rate as string | undefined) ?? 'max';
  const rate = rateText === 'max' ? 'max' : positive('--rate', rateText, false);
  const sink = values.sink as string | undefined;
  if (sink !== undefined && !['null', 'sqlite', 'ndjson', 'postgres'].includes(sink)) {
    throw new InvalidOptionError('--sink', 'null, sqlite, ndjson or postgres', sink);
  }
  const known = Object.keys(config === undefined ? SYSTEMS : CONFIG_SYSTEMS);
  const durability = (values.durability as string | undefined) ?? 'memory';
  if (durability !== 'memory' && durability !== 'disk')
    throw new InvalidOptionError('--durability', "'memory' or 'disk'", durability);
  if (durability === 'disk' && config !== undefined)
    throw new InvalidOptionError(
      '--durability',
      "'memory' with --config (set queue.durability in the config)",
      durability,
    );
  const diskFsync = (values.fsync as string | undefined) ?? 'group';
  if (!['group', 'interval', 'never'].includes(diskFsync))
    throw new InvalidOptionError('--fsync', "'group', 'interval' or 'never'", diskFsync);
  const byDefault =
    durability === 'disk' ? ['engine', 'engine-disk'] : known.filter((s) => !OPT_IN_SYSTEMS.has(s));
  const systems = ((values.systems as string | undefined) ?? byDefault.join(',')).split(',').filter(Boolean);
  for (const system of systems) {
    if (!known.includes(system))
      throw new InvalidOptionError('--systems', `a list of ${known.join(', ')}`, system);
  }
  if (systems.length === 0) {
    throw new InvalidOptionError('--systems', `a non-empty list of ${known.join(', ')}`, values.systems);
  }
  if (
    (sink ?? (config === undefined ? SCENARIOS[scenario]!.sink : undefined)) === 'postgres' &&
    !process.env.DATABASE_URL
  ) {
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
    config,
    events,
    eventsModule,
    tune: Boolean(values.tune),
    p99TargetMs,
    workersGiven: values.workers !== undefined,
    systemsGiven: values.systems !== undefined,
    youngGenerationGiven: values['young-generation-mb'] !== undefined,
    durationMs: positive('--duration', (values.duration as string | undefined) ?? '10', false) * 1000,
    rounds,
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
    diskFsync: diskFsync as FsyncPolicy,
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
  const withFiltered = report.results.some((r) => r.filtered !== undefined);
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
    ...(withFiltered ? { filtered: String(r.filtered ?? 0) } : {}),
    'main loop p99 ms': r.mainThread ? r.mainThread.eventLoopDelayP99Ms.toFixed(1) : '—',
    'main µs/event': r.mainThread?.cpuUsPerEvent === undefined ? '—' : r.mainThread.cpuUsPerEvent.toFixed(2),
  }));
  const engine = report.results.find((r) => r.system === 'engine');
  // Several rounds: the median of the ratios of each round's runs, and each round's.
  if (report.engineRatios) {
    const lines = report.engineRatios.map(
      (r) =>
        `engine / ${r.system}: ${r.median.toFixed(2)}× (median; by round ${r.byRound.map((x) => x.toFixed(2)).join(', ')})`,
    );
    return `${formatTable(rows)}\n${lines.join('\n')}`;
  }
  const ratios = engine
    ? report.results
        .filter((r) => r !== engine && r.eventsPerSec > 0)
        .map((r) => `engine / ${r.system}: ${(engine.eventsPerSec / r.eventsPerSec).toFixed(2)}×`)
    : [];
  return `${formatTable(rows)}\n${ratios.join('   ')}`;
}

/** `CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile`, as Node names a profile. */
const NODE_PROFILE_NAME = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.(\d+)\.cpuprofile$/;

/**
 * Renames the profiles process `pid` wrote after the thread that ran them: `main`, or
 * `<system>.<role>` (`engine.worker-1`, `engine.producer-2`, …) from the report's thread ids; a
 * thread the report does not name (one that wrote nothing) keeps its id: `thread-<id>`.
 */
function nameProfiles(
  dir: string,
  pid: number,
  report: BenchReport | undefined,
): { file: string; thread: string }[] {
  const roles = new Map<number, string>();
  for (const result of report?.results ?? []) {
    for (const { role, threadId } of result.threads ?? []) roles.set(threadId, `${result.system}.${role}`);
  }
  const named: { file: string; thread: string }[] = [];
  for (const file of readdirSync(dir).sort()) {
    const match = NODE_PROFILE_NAME.exec(file);
    if (!match || Number(match[1]) !== pid) continue;
    const threadId = Number(match[2]);
    const thread = threadId === 0 ? 'main' : (roles.get(threadId) ?? `thread-${threadId}`);
    let target = `${thread}.cpuprofile`;
    if (existsSync(join(dir, target))) target = `${thread}.${match[3]}.cpuprofile`;
    renameSync(join(dir, file), join(dir, target));
    named.push({ file: target, thread });
  }
  return named;
}

/**
 * `--profile`: runs the same command again under `--cpu-prof`, which profiles the main thread and
 * every worker thread. The main thread's profile is written only when that process exits, so the
 * report is completed here, afterwards: the profiles named by thread role, and each summarised.
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
  const reportFile = join(out, 'report.json');
  const report = existsSync(reportFile)
    ? (JSON.parse(readFileSync(reportFile, 'utf8')) as BenchReport)
    : undefined;
  const named = nameProfiles(dir, child.pid!, report);
  const kinds: CodeKinds = {
    sluiceRoot: new URL('../../', import.meta.url).href,
    ...(typeof report?.config.transform === 'string' ? { transform: report.config.transform } : {}),
    ...(typeof report?.config.sinkModule === 'string' ? { sinkModule: report.config.sinkModule } : {}),
  };
  const summaries = named.map(({ file, thread }) => {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const flame = file.replace(/\.cpuprofile$/, '.flame.svg');
    writeFileSync(
      join(dir, flame),
      flameGraphSvg(profile, `${thread} — ${report?.scenario ?? 'sluice bench'}`, kinds),
    );
    return {
      ...summarizeProfile(profile, join('profiles', file), thread, kinds),
      flameGraph: join('profiles', flame),
    };
  });
  if (report) {
    report.profiles = named.map(({ file }) => join('profiles', file));
    report.profileSummaries = summaries;
    const { writeReport } = await import('../harness/report/write-report.js');
    await writeReport(report, out);
    if (options.json) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  console.log(
    '\nWhere each thread spent its time (self time; open a profile in Chrome DevTools or speedscope):',
  );
  console.log(profileSummaryText(summaries));
  console.log('\nCPU profiles, and their flame graphs (SVG, open offline in any browser):');
  for (const { file } of named) {
    console.log(`  ${join(dir, file)}\n  ${join(dir, file.replace(/\.cpuprofile$/, '.flame.svg'))}`);
  }
  return code;
}

/** The scenario of a `--config` run, or the exit code after printing why the config cannot be used. */
async function configuredScenario(options: BenchCommandOptions): Promise<Scenario | number> {
  const file = options.config!;
  const config = loadConfigOrExit(file);
  if (typeof config === 'number') return config;
  return configScenario(file, config, {
    ...(options.events !== undefined ? { events: options.events } : {}),
    ...(options.eventsModule !== undefined ? { eventsModule: options.eventsModule } : {}),
  });
}

/** `--tune`'s trials as a table, then the recommendation and the config lines to use. */
export function tuneSummary(tune: NonNullable<BenchReport['tune']>): string {
  const rows = tune.trials.map((t) => ({
    workers: String(t.workers),
    'batch.maxRecords': String(t.batchMaxRecords),
    'events/s': Math.round(t.eventsPerSec).toLocaleString('en-US'),
    'p99 ms': t.latencyMs.p99.toFixed(2),
    lost: String(t.lost),
    '': isRecommended(t, tune.recommended) ? '← recommended' : '',
  }));
  const lines = tune.configLines
    ? `\nIn the config:\n${tune.configLines.replace(/^/gm, '  ').trimEnd()}`
    : '';
  return `${formatTable(rows)}\n${tune.summary}${lines}`;
}

/** `sluice bench`: returns the process exit code. */
export async function benchCommand(argv: string[], env: BenchEnvironment): Promise<number> {
  const options = parseBenchArgs(argv);
  if (options === 'help') {
    process.stdout.write(BENCH_HELP);
    return EXIT_OK;
  }
  if (options.profile) return reRunWithProfiler(argv, options);
  const configured = options.config === undefined ? undefined : await configuredScenario(options);
  if (typeof configured === 'number') return configured;
  const scenario = configured ?? SCENARIOS[options.scenario]!;
  // Several routes: the engine and the single thread, both routing. The sink alone measures one
  // sink's ceiling; with several there is no one ceiling to compare with.
  let systems = options.systems;
  const routes = configured?.pipeline ? Object.keys(configured.pipeline.routes) : [];
  if (routes.length > 1) {
    if (options.systemsGiven && systems.includes('sink-alone')) {
      console.error(
        `sluice: --systems must be engine and/or single-thread for a config with several routes (${routes.join(', ')}), got ${JSON.stringify(options.systems.join(','))}`,
      );
      return EXIT_USAGE;
    }
    systems = systems.filter((s) => s !== 'sink-alone');
  }
  // With --config, the config's own settings unless a flag overrides them.
  const workers =
    configured?.pipeline && !options.workersGiven ? configured.pipeline.workers.max : options.workers;
  const youngGenerationMb =
    configured?.pipeline && !options.youngGenerationGiven ? undefined : options.youngGenerationMb;
  const sink = options.sink ?? (configured ? 'config' : scenario.sink);
  const tty = process.stdout.isTTY === true;
  console.log(
    `sluice bench — scenario ${scenario.name}: ${scenario.description}\n` +
      `Node ${env.node}, ${env.cpus} CPUs, ${workers} workers, ${options.producers} producer thread(s), ` +
      `${options.durationMs / 1000} s per system${options.rounds > 1 ? ` × ${options.rounds} rounds (order rotated)` : ''}, ` +
      `rate ${options.rate}, commit ${env.commit}`,
  );
  const report = await runBench({
    scenario,
    durationMs: options.durationMs,
    rate: options.rate,
    workers,
    producers: options.producers,
    sink,
    systems,
    rounds: options.rounds,
    sweep: options.sweep,
    env,
    metrics: options.metrics,
    diskFsync: options.diskFsync,
    ...(youngGenerationMb !== undefined ? { youngGenerationMb } : {}),
    ...(options.tune ? { tune: { p99TargetMs: options.p99TargetMs } } : {}),
    ...(options.serve ? { serve: options.serve } : {}),
    ...(tty ? { onProgress: (p: Progress) => process.stdout.write(`\r\x1b[2K${progressLine(p)}`) } : {}),
    onResult: (r, round) => {
      if (tty) process.stdout.write('\r\x1b[2K');
      const disk = r.disk
        ? ` (fsync ${r.disk.fsync}: ${Math.round(r.disk.fsyncsPerSecond)} fsyncs/s, ${Math.round(r.disk.bytesWrittenPerEvent)} bytes/event to the log)`
        : '';
      console.log(
        `${round ? `round ${round.index}/${round.of} ` : ''}${r.system}: ${Math.round(r.eventsPerSec).toLocaleString('en-US')} events/s, p99 ${r.latencyMs.p99.toFixed(2)} ms, lost ${r.lost}, duplicates ${r.duplicates}${disk}`,
      );
    },
    onTrial: (t) => {
      if (tty) process.stdout.write('\r\x1b[2K');
      console.log(
        `tune: ${t.workers} worker(s), batches of ${t.batchMaxRecords}: ${Math.round(t.eventsPerSec).toLocaleString('en-US')} events/s, p99 ${t.latencyMs.p99.toFixed(2)} ms`,
      );
    },
  });
  console.log(`\n${summaryTable(report)}`);
  for (const result of report.results.filter((r) => r.routes !== undefined)) {
    console.log(`\n${result.system}, by route (an event sent to several routes counts in each):`);
    console.log(
      formatTable(
        result.routes!.map((r) => ({
          route: r.route,
          written: r.written.toLocaleString('en-US'),
          'events/s': Math.round(r.eventsPerSec).toLocaleString('en-US'),
          dup: String(r.duplicates),
        })),
      ),
    );
  }
  const stages = report.results.find((r) => r.system === 'engine')?.stages;
  if (stages && configured) {
    console.log(
      `\nengine, mean per ${stages.measured ? 'event' : 'batch'}, batches of ${stages.meanBatchRecords.toFixed(0)} on average (push → ack ${stages.meanLatencyMs.toFixed(2)} ms):\n  ${stagesBar(stages)}`,
    );
  }
  if (report.bound) console.log(`\n${report.bound.sentence}`);
  if (report.tune) console.log(`\n${tuneSummary(report.tune)}`);
  if (options.json) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  if (options.out) {
    const { writeReport } = await import('../harness/report/write-report.js');
    const written = await writeReport(report, options.out);
    console.log(`report: ${written.markdown}`);
  }
  const lost = report.results.reduce((n, r) => n + r.lost, 0);
  return lost > 0 ? EXIT_EVENTS_LOST : EXIT_OK;
}
