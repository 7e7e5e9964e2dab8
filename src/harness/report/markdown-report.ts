import type { BenchReport, SystemResult } from '../bench-report.js';
import { stagesBar } from '../engine-stages.js';
import { isRecommended } from '../tune.js';
import { environmentParts } from './environment.js';
import {
  formatCompact,
  formatCount,
  formatPlain,
  formatRatio,
  formatSignificant,
  MISSING,
} from './format.js';
import { type Column, escapeMarkdown, markdownTable } from './markdown-table.js';
import { TIME_KINDS } from './profile-summary.js';
import { KNEE_MIN_RISE, kneeIndex, sweepBySystem } from './sweep-knee.js';

/** Where each chart was written, relative to the Markdown file; a chart left out is not linked. */
export interface ChartFiles {
  throughput?: string;
  latency?: string;
  sweep?: string;
}

/** The system the ratios put over every other (the baselines). */
export const ENGINE_SYSTEM = 'engine';
/** Configuration key/value pairs per table row: compact, yet each pair stays readable. */
const CONFIG_PAIRS_PER_ROW = 3;
/** Four-digit values (ports, years, batch sizes) read better without a separator. */
const GROUPING_FROM = 10_000;

const left = (title: string): Column => ({ title, align: 'left' });
const right = (title: string): Column => ({ title, align: 'right' });

function configValue(value: unknown): string {
  if (typeof value === 'number') {
    return Number.isFinite(value) && Math.abs(value) >= GROUPING_FROM ? formatCount(value) : String(value);
  }
  if (Array.isArray(value)) return value.map(configValue).join(', ');
  if (value === undefined || value === null) return MISSING;
  if (typeof value === 'object') return escapeMarkdown(JSON.stringify(value));
  return escapeMarkdown(String(value));
}

/** Nested objects become dotted keys, so one table holds the whole configuration. */
function flattenConfig(config: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(config).flatMap(([key, value]): [string, unknown][] =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? flattenConfig(value as Record<string, unknown>, `${prefix}${key}.`)
      : [[`${prefix}${key}`, value]],
  );
}

function configSection(config: Record<string, unknown>): string[] {
  const pairs = flattenConfig(config);
  if (pairs.length === 0) return ['## Configuration', '', 'Defaults (no settings recorded).'];
  const perRow = Math.min(CONFIG_PAIRS_PER_ROW, pairs.length);
  const columns = Array.from({ length: perRow }, () => [left('setting'), left('value')]).flat();
  const rows: string[][] = [];
  for (let i = 0; i < pairs.length; i += perRow) {
    rows.push(
      pairs.slice(i, i + perRow).flatMap(([key, value]) => [escapeMarkdown(key), configValue(value)]),
    );
  }
  return ['## Configuration', '', markdownTable(columns, rows)];
}

/** Correctness counts are the figures that must be zero: make a non-zero one stand out. */
function mustBeZero(n: number): string {
  return n === 0 ? '0' : `**${formatCount(n)}**`;
}

function resultsSection(results: readonly SystemResult[]): string[] {
  const withWorkers = results.some((r) => r.workers !== undefined);
  const withFiltered = results.some((r) => r.filtered !== undefined);
  const withTarget = results.some((r) => r.targetRate !== undefined);
  const columns = [
    left('system'),
    ...(withWorkers ? [right('workers')] : []),
    ...(withTarget ? [right('offered events/s')] : []),
    right('events/s'),
    right('p50 ms'),
    right('p90 ms'),
    right('p99 ms'),
    right('p99.9 ms'),
    right('max ms'),
    right('peak RSS MiB'),
    right('CPU µs per event'),
    right('RSS 1st → 4th quarter MiB'),
    right('max queue depth'),
    right('lost'),
    right('duplicates'),
    right('dead-lettered'),
    ...(withFiltered ? [right('filtered')] : []),
    right('producer blocked ms'),
  ];
  const rows = results.map((r) => [
    escapeMarkdown(r.system),
    ...(withWorkers ? [formatCount(r.workers)] : []),
    ...(withTarget ? [formatCount(r.targetRate)] : []),
    formatCount(r.eventsPerSec),
    formatSignificant(r.latencyMs.p50),
    formatSignificant(r.latencyMs.p90),
    formatSignificant(r.latencyMs.p99),
    formatSignificant(r.latencyMs.p999),
    formatSignificant(r.latencyMs.max),
    formatSignificant(r.peakRssMiB),
    formatSignificant(r.cpuUsPerEvent),
    r.rss ? `${formatSignificant(r.rss.firstQuarterMiB)} → ${formatSignificant(r.rss.lastQuarterMiB)}` : '—',
    formatCount(r.maxQueueDepth),
    mustBeZero(r.lost),
    mustBeZero(r.duplicates),
    formatCount(r.deadLettered),
    ...(withFiltered ? [formatCount(r.filtered ?? 0)] : []),
    formatSignificant(r.producerBlockedMs),
  ]);
  return [
    '## Results',
    '',
    'Latency is from `push()` to the sink acknowledgement. Lost and duplicates are counted by event id.',
    '',
    rows.length === 0 ? 'No results.' : markdownTable(columns, rows),
  ];
}

function boundSection(report: BenchReport): string[] {
  if (report.bound === undefined) return [];
  return [
    '## What bounds this pipeline',
    '',
    escapeMarkdown(report.bound.sentence),
    '',
    'Decided from the figures above: the engine near the sink alone is sink-bound; near min(workers, CPUs) × ' +
      'the single thread, transform-bound; below both, what is left is the engine’s own overhead.',
  ];
}

function routesSection(results: readonly SystemResult[]): string[] {
  const routed = results.filter((r) => r.routes !== undefined);
  if (routed.length === 0) return [];
  const rows = routed.flatMap((r) =>
    r.routes!.map((route) => [
      escapeMarkdown(r.system),
      escapeMarkdown(route.route),
      formatCount(route.written),
      formatCount(Math.round(route.eventsPerSec)),
      formatCount(route.duplicates),
    ]),
  );
  return [
    '## By route',
    '',
    'Each route’s sink, counted by id through a ledger of its own: an event sent to several routes counts in each.',
    '',
    markdownTable(
      [left('system'), left('route'), right('written'), right('events/s'), right('duplicates')],
      rows,
    ),
  ];
}

function stagesSection(results: readonly SystemResult[]): string[] {
  const stages = results.find((r) => r.system === ENGINE_SYSTEM)?.stages;
  if (stages === undefined) return [];
  const stageRows: [string, number, number | undefined][] = [
    ['queue wait', stages.queueWaitMs, undefined],
    ['decode + transform', stages.decodeTransformMs, stages.workerUsPerEvent.decodeTransform],
    ['sink write', stages.sinkWriteMs, stages.workerUsPerEvent.sinkWrite],
  ];
  if (stages.releaseWaitMs !== undefined) stageRows.push(['release wait', stages.releaseWaitMs, undefined]);
  const rows = stageRows.map(([name, ms, us]) => [
    String(name),
    formatSignificant(ms as number),
    formatSignificant(us as number | undefined),
  ]);
  return [
    '## Where the engine’s time goes',
    '',
    stages.measured
      ? `From the engine’s per-event stage counters: mean per event (${formatSignificant(stages.meanBatchRecords)} ` +
        `records per batch on average, ${formatCount(stages.batches)} batches); every event of a batch waits for all ` +
        'of it. Queue wait: in the ring until a worker took its batch; release wait: acknowledged, until earlier ' +
        'batches were too and its ring space was released in order.'
      : `From the engine’s own counters: mean per batch (${formatSignificant(stages.meanBatchRecords)} records on ` +
        `average, ${formatCount(stages.batches)} batches); every event of a batch waits for all of it. The queue ` +
        `wait is the engine’s mean push → ack latency (${formatSignificant(stages.meanLatencyMs)} ms) less the ` +
        'worker’s time.',
    '',
    markdownTable(
      [left('stage'), right(stages.measured ? 'ms per event' : 'ms per batch'), right('worker µs per event')],
      rows,
    ),
    '',
    '```',
    stagesBar(stages),
    '```',
  ];
}

function diskSection(results: readonly SystemResult[]): string[] {
  const onDisk = results.filter((r) => r.disk !== undefined);
  if (onDisk.length === 0) return [];
  const memory = results.find((r) => r.system === 'engine');
  const rows = onDisk.map((r) => [
    escapeMarkdown(r.system),
    escapeMarkdown(r.disk!.fsync),
    formatSignificant(r.eventsPerSec),
    memory ? `${formatSignificant(r.eventsPerSec / memory.eventsPerSec)}×` : '—',
    formatSignificant(r.latencyMs.p99),
    formatSignificant(r.disk!.fsyncsPerSecond),
    formatSignificant(r.disk!.bytesWrittenPerEvent),
  ]);
  return [
    '## The disk queue',
    '',
    'The engine on `queue.durability: disk` (every event in the log before its push returns, ' +
      'durable as the fsync policy says) beside the engine on the ring alone, same run.',
    '',
    markdownTable(
      [
        left('system'),
        left('fsync'),
        right('events/s'),
        right('÷ engine'),
        right('p99 ms'),
        right('fsyncs/s'),
        right('log bytes per event'),
      ],
      rows,
    ),
    '',
  ];
}

function mainThreadSection(results: readonly SystemResult[]): string[] {
  const measured = results.filter((r) => r.mainThread !== undefined);
  if (measured.length === 0) return [];
  const rows = measured.map((r) => [
    escapeMarkdown(r.system),
    formatSignificant(r.mainThread!.eventLoopDelayP99Ms),
    formatSignificant(r.mainThread!.cpuUsPerEvent),
  ]);
  return [
    '## The host’s main thread',
    '',
    'What a service embedding the system would feel: the main thread’s event-loop delay (p99, ' +
      '`perf_hooks.monitorEventLoopDelay`) and its own CPU time per event, while each system ran.',
    '',
    markdownTable(
      [left('system'), right('event-loop delay p99 ms'), right('main-thread CPU µs per event')],
      rows,
    ),
  ];
}

function tuneSection(report: BenchReport): string[] {
  const tune = report.tune;
  if (tune === undefined) return [];
  const rows = tune.trials.map((t) => [
    formatCount(t.workers),
    formatCount(t.batchMaxRecords),
    formatCount(t.eventsPerSec),
    formatSignificant(t.latencyMs.p99),
    mustBeZero(t.lost),
    isRecommended(t, tune.recommended) ? 'recommended' : '',
  ]);
  return [
    '## Tuning',
    '',
    escapeMarkdown(tune.summary),
    '',
    markdownTable(
      [
        right('workers'),
        right('batch.maxRecords'),
        right('events/s'),
        right('p99 ms'),
        right('lost'),
        left(''),
      ],
      rows,
    ),
    ...(tune.configLines ? ['', '```yaml', tune.configLines.trimEnd(), '```'] : []),
  ];
}

/** `a ÷ b`, or undefined when the quotient means nothing (a zero or missing baseline). */
function ratio(a: number, b: number): number | undefined {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : undefined;
}

function ratiosSection(results: readonly SystemResult[], byRound?: BenchReport['engineRatios']): string[] {
  const engine = results.find((r) => r.system === ENGINE_SYSTEM);
  const baselines = results.filter((r) => r.system !== ENGINE_SYSTEM);
  if (engine === undefined || baselines.length === 0) {
    const why = engine === undefined ? `no \`${ENGINE_SYSTEM}\` result` : 'no baseline result';
    return ['## Ratios', '', `None: ${why} in this run.`];
  }
  if (byRound && byRound.length > 0) {
    const rows = byRound.map((r) => [
      escapeMarkdown(r.system),
      formatRatio(r.median),
      r.byRound.map((x) => formatRatio(x)).join(', '),
    ]);
    return [
      '## Ratios',
      '',
      `Engine ÷ each baseline, throughput, round by round (${byRound[0]!.byRound.length} rounds, the order of the systems ` +
        'rotated each round) and their median. The tables above show each system’s median round.',
      '',
      markdownTable([left('engine ÷'), right('throughput, median'), left('by round')], rows),
    ];
  }
  const rows = baselines.map((b) => [
    escapeMarkdown(b.system),
    formatRatio(ratio(engine.eventsPerSec, b.eventsPerSec)),
    formatRatio(ratio(engine.latencyMs.p99, b.latencyMs.p99)),
  ]);
  return [
    '## Ratios',
    '',
    `Engine ÷ each baseline, from this one run. Throughput above 1× means the engine moved more events per second; ` +
      'p99 latency below 1× means its tail latency was lower.',
    '',
    markdownTable([left('engine ÷'), right('throughput'), right('p99 latency')], rows),
  ];
}

/** A relative path as a link destination: each segment percent-encoded, the slashes kept. */
function linkTarget(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function chartsSection(files: ChartFiles): string[] {
  const images = [
    ['Throughput by system', files.throughput],
    ['Latency percentiles by system', files.latency],
    ['p99 latency against achieved throughput', files.sweep],
  ] as const;
  const lines = images.flatMap(([alt, file]) =>
    file === undefined ? [] : [`![${alt}](${linkTarget(file)})`, ''],
  );
  return lines.length === 0 ? [] : ['## Charts', '', ...lines.slice(0, -1)];
}

function sweepSection(report: BenchReport): string[] {
  if (report.sweep === undefined || report.sweep.length === 0) return [];
  const rows: string[][] = [];
  for (const [system, points] of sweepBySystem(report.sweep)) {
    const knee = kneeIndex(points);
    points.forEach((p, i) => {
      rows.push([
        escapeMarkdown(system),
        `${formatPlain(Math.round(p.fraction * 1000) / 10)}%`,
        formatCount(p.targetRate),
        formatCount(p.eventsPerSec),
        formatSignificant(p.latencyMs.p50),
        formatSignificant(p.latencyMs.p99),
        formatSignificant(p.latencyMs.max),
        i === knee ? `knee ≈ ${formatCompact(p.eventsPerSec)} events/s` : '',
      ]);
    });
  }
  const columns = [
    left('system'),
    right('offered, % of max'),
    right('offered events/s'),
    right('achieved events/s'),
    right('p50 ms'),
    right('p99 ms'),
    right('max ms'),
    left('note'),
  ];
  return [
    '## Rate sweep',
    '',
    'Each system was offered fractions of its measured maximum rate. The knee is where the curve of p99 ' +
      '(log scale) against achieved throughput bends furthest from straight: past it, more offered load buys ' +
      `more latency than throughput. No knee is named for a system whose p99 rose less than ${KNEE_MIN_RISE}×.`,
    '',
    markdownTable(columns, rows),
  ];
}

function profilesSection(report: BenchReport): string[] {
  const { profiles, profileSummaries } = report;
  if (profiles === undefined || profiles.length === 0) return [];
  const flames = new Map((profileSummaries ?? []).map((s) => [s.file, s.flameGraph]));
  const lines = [
    '## Profiles',
    '',
    ...profiles.map((p) => {
      const flame = flames.get(p);
      const graph = flame === undefined ? '' : ` · [flame graph](${linkTarget(flame)})`;
      return `- [${escapeMarkdown(p)}](${linkTarget(p)})${graph}`;
    }),
  ];
  if (profileSummaries === undefined || profileSummaries.length === 0) return lines;
  const percent = (x: number) => `${formatPlain(Math.round(x * 100))} %`;
  const shares = profileSummaries.map((s) => [
    escapeMarkdown(s.thread),
    formatCount(s.sampledMs),
    ...TIME_KINDS.map((k) => percent(s.shares[k])),
  ]);
  const top = profileSummaries.flatMap((s) =>
    s.top
      .slice(0, 5)
      .map((f) => [
        escapeMarkdown(s.thread),
        escapeMarkdown(f.name),
        escapeMarkdown(f.where),
        f.kind,
        formatSignificant(f.selfMs),
        percent(f.share),
      ]),
  );
  return [
    ...lines,
    '',
    'Sampled time of each thread by kind of code: the transform module, the sink (its module, its ' +
      'driver, Sluice’s sinks), Sluice’s own code, the bench’s load generation and accounting, garbage ' +
      'collection, idle, V8 itself (program), and the rest (Node’s internals, other modules).',
    '',
    markdownTable([left('thread'), right('sampled ms'), ...TIME_KINDS.map((k) => right(k))], shares),
    '',
    'Top functions by self time, per thread (idle left out):',
    '',
    markdownTable(
      [left('thread'), left('function'), left('where'), left('kind'), right('self ms'), right('share')],
      top,
    ),
  ];
}

/** The human-readable report of one `sluice bench` run, linking the charts in `chartFiles`. */
export function markdownReport(report: BenchReport, chartFiles: ChartFiles): string {
  const sections = [
    [
      `# Sluice bench: ${escapeMarkdown(report.scenario)}`,
      '',
      escapeMarkdown(environmentParts(report.env, true).join(' · ')),
    ],
    configSection(report.config),
    resultsSection(report.results),
    boundSection(report),
    routesSection(report.results),
    stagesSection(report.results),
    mainThreadSection(report.results),
    diskSection(report.results),
    ratiosSection(report.results, report.engineRatios),
    tuneSection(report),
    chartsSection(chartFiles),
    sweepSection(report),
    profilesSection(report),
  ].filter((s) => s.length > 0);
  return `${sections.map((s) => s.join('\n')).join('\n\n')}\n`;
}
