/**
 * `sluice bench` as a user runs it: the built CLI in a child process. Flags are documented and
 * validated (errors name the flag and quote the value, exit code 64); --json, --out and --profile
 * write what they promise.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchArgs, summaryTable } from '../../src/cli/bench-command.js';
import type { BenchReport, SystemResult } from '../../src/harness/bench-report.js';
import { type Exit, runCli } from '../helpers/cli.js';
import { benchReportProblems } from './bench-report-schema.js';

/** Runs the built CLI to completion (killed after a generous watchdog, so a hang fails, not stalls). */
const sluice = (...args: string[]) => runCli(args, { timeoutMs: 45_000 });

const SHORT_RUN = ['--scenario', 'trivial', '--duration', '0.5', '--workers', '1'];
const SYSTEM_NAMES = ['engine', 'seed-port', 'piscina-per-event'];

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('sluice bench --help', () => {
  const FLAGS = [
    '--scenario',
    '--duration',
    '--rate',
    '--workers',
    '--producers',
    '--sink',
    '--systems',
    '--json',
    '--out',
    '--sweep',
    '--profile',
    '--serve',
    '--metrics',
    '--young-generation-mb',
    '-h, --help',
  ];

  it.each(['bench --help', 'bench -h', 'help bench'])(
    '`sluice %s` lists every flag and runs nothing',
    async (line) => {
      const { code, stdout } = await sluice(...line.split(' '));
      expect(code).toBe(0);
      for (const flag of FLAGS) expect(stdout, flag).toContain(flag);
      expect(stdout).not.toContain('sluice bench — scenario');
    },
  );
});

describe('sluice bench flag validation', () => {
  it.each([
    [['--rate', 'fast'], '--rate', '"fast"'],
    [['--workers', '0'], '--workers', '"0"'],
    [['--workers', '1.5'], '--workers', '"1.5"'],
    [['--duration', 'soon'], '--duration', '"soon"'],
    [['--producers', 'two'], '--producers', '"two"'],
    [['--metrics', 'maybe'], '--metrics', '"maybe"'],
    [['--young-generation-mb', '1.5'], '--young-generation-mb', '"1.5"'],
    [['--scenario', 'nope'], '--scenario', '"nope"'],
    [['--sink', 'mongo'], '--sink', '"mongo"'],
    [['--systems', 'engine,nope'], '--systems', '"nope"'],
    [['--serve', 'localhost'], '--serve', '"localhost"'],
    [['--frobnicate'], '--frobnicate', '--frobnicate'],
  ])('refuses %j with exit code 64, naming %s and quoting %s', async (args, flag, value) => {
    const { code, stdout, stderr } = await sluice('bench', ...args);
    expect(code).toBe(64);
    expect(stderr).toContain(flag);
    expect(stderr).toContain(value);
    expect(stdout).not.toContain('sluice bench — scenario');
  });

  it('refuses an empty --systems list rather than measuring nothing', async () => {
    const { code, stderr } = await sluice('bench', ...SHORT_RUN, '--systems', ',');
    expect(code).toBe(64);
    expect(stderr).toContain('--systems');
  });

  it('refuses --profile without --out, naming both', async () => {
    const { code, stderr } = await sluice('bench', '--profile');
    expect(code).toBe(64);
    expect(stderr).toContain('--profile');
    expect(stderr).toContain('--out');
  });

  it('refuses an unknown command with exit code 64', async () => {
    const { code, stderr } = await sluice('frobnicate');
    expect(code).toBe(64);
    expect(stderr).toContain("'frobnicate'");
  });
});

describe('parseBenchArgs', () => {
  it('defaults to the sqlite scenario, 10 s per system, closed loop, one worker per CPU, two producer threads, every system', () => {
    expect(parseBenchArgs([])).toEqual({
      scenario: 'sqlite',
      config: undefined,
      events: undefined,
      eventsModule: undefined,
      tune: false,
      p99TargetMs: 100,
      workersGiven: false,
      systemsGiven: false,
      youngGenerationGiven: false,
      durationMs: 10_000,
      rounds: 1,
      rate: 'max',
      workers: availableParallelism(),
      producers: 2,
      sink: undefined,
      systems: SYSTEM_NAMES,
      json: undefined,
      out: undefined,
      sweep: false,
      profile: false,
      serve: undefined,
      metrics: true,
      youngGenerationMb: 24,
      diskFsync: 'group',
    });
  });

  it('--durability disk runs the engine on a disk queue beside the engine on the ring; --fsync picks its policy; bad values are named', () => {
    expect(parseBenchArgs(['--scenario', 'bytes', '--durability', 'disk', '--fsync', 'never'])).toMatchObject(
      {
        systems: ['engine', 'engine-disk'],
        diskFsync: 'never',
      },
    );
    expect(() => parseBenchArgs(['--durability', 'tape'])).toThrow(
      /--durability must be 'memory' or 'disk', got "tape"/,
    );
    expect(() => parseBenchArgs(['--fsync', 'always'])).toThrow(
      /--fsync must be 'group', 'interval' or 'never', got "always"/,
    );
  });

  it('reads seconds as milliseconds, a numeric rate as open loop, and a list of systems', () => {
    expect(
      parseBenchArgs([
        '--duration',
        '0.5',
        '--rate',
        '2500',
        '--systems',
        'seed-port,engine',
        '--sink',
        'null',
        '--young-generation-mb',
        '0',
      ]),
    ).toMatchObject({
      durationMs: 500,
      rate: 2500,
      systems: ['seed-port', 'engine'],
      sink: 'null',
      youngGenerationMb: 0,
    });
  });

  it('--rounds takes a positive whole number and names a bad one', () => {
    expect(parseBenchArgs(['--rounds', '3'])).toMatchObject({ rounds: 3 });
    for (const bad of ['0', '-1', '2.5', 'three'])
      expect(() => parseBenchArgs([`--rounds=${bad}`]), bad).toThrow(
        new RegExp(`--rounds must be a positive integer, got "${bad}"`),
      );
    expect(() => parseBenchArgs(['--scenario', 'ring', '--rounds', '2'])).toThrow(
      /--rounds must be 1 with --scenario ring, got "2"/,
    );
  });
});

describe('summaryTable', () => {
  const result = (system: string, eventsPerSec: number): SystemResult => ({
    system,
    events: eventsPerSec,
    seconds: 1,
    eventsPerSec,
    latencyMs: { p50: 1, p90: 2, p99: 3, p999: 4, max: 5 },
    peakRssMiB: 100,
    maxQueueDepth: 10,
    lost: 0,
    duplicates: 0,
    deadLettered: 0,
  });

  it('prints one row per system and the engine’s throughput ratio to each baseline', () => {
    const table = summaryTable({
      scenario: 'trivial',
      env: { node: 'v20', cpus: 2, commit: 'abc' },
      config: {},
      results: [result('engine', 30_000), result('seed-port', 10_000), result('piscina-per-event', 20_000)],
    });
    const lines = table.split('\n');
    for (const system of SYSTEM_NAMES) {
      expect(
        lines.filter((l) => new RegExp(`^${system}\\s+[\\d,]+\\s`).test(l)),
        system,
      ).toHaveLength(1);
    }
    expect(table).toContain('engine / seed-port: 3.00×');
    expect(table).toContain('engine / piscina-per-event: 1.50×');
  });

  it('with several rounds, prints the median of the engine’s ratio round by round, and each round’s', () => {
    const table = summaryTable({
      scenario: 'trivial',
      env: { node: 'v20', cpus: 2, commit: 'abc' },
      config: {},
      results: [result('engine', 30_000), result('seed-port', 10_000)],
      engineRatios: [{ system: 'seed-port', byRound: [2.5, 3, 4], median: 3 }],
    });
    expect(table).toContain('engine / seed-port: 3.00× (median; by round 2.50, 3.00, 4.00)');
  });
});

function readReport(path: string): BenchReport {
  const report: unknown = JSON.parse(readFileSync(path, 'utf8'));
  expect(benchReportProblems(report)).toEqual([]);
  return report as BenchReport;
}

describe('sluice bench --json FILE', () => {
  it('writes a report of every system that passes the schema, losing and duplicating nothing', async () => {
    const file = join(tempDir(), 'bench.json');
    const { code, stdout, stderr } = await sluice('bench', ...SHORT_RUN, '--json', file);
    expect(code, stderr).toBe(0);
    const report = readReport(file);
    expect(report.scenario).toBe('trivial');
    expect(report.env.node).toBe(process.version);
    expect(report.config).toMatchObject({ durationSeconds: 0.5, workers: 1, rate: 'max', sink: 'null' });
    expect(report.results.map((r) => r.system)).toEqual(SYSTEM_NAMES);
    for (const r of report.results) {
      expect(r.events, r.system).toBeGreaterThan(0);
      expect({ lost: r.lost, duplicates: r.duplicates }, r.system).toEqual({ lost: 0, duplicates: 0 });
      expect(stdout, `summary row of ${r.system}`).toMatch(new RegExp(`^${r.system} `, 'm'));
    }
  });
});

describe('sluice bench --out DIR', () => {
  it('writes report.md with the throughput and latency charts it links to, and the report as JSON', async () => {
    const out = join(tempDir(), 'report');
    const { code, stderr } = await sluice(
      'bench',
      ...SHORT_RUN,
      '--systems',
      'engine,seed-port',
      '--out',
      out,
    );
    expect(code, stderr).toBe(0);
    const markdown = readFileSync(join(out, 'report.md'), 'utf8');
    expect(markdown).toContain('trivial');
    for (const chart of ['throughput.svg', 'latency.svg']) {
      expect(markdown, `report.md links ${chart}`).toContain(`(${chart})`);
      const svg = readFileSync(join(out, chart), 'utf8').trim();
      expect(svg, chart).toMatch(/^(<\?xml[^>]*>\s*)?<svg[\s>]/);
      expect(svg.endsWith('</svg>'), chart).toBe(true);
    }
    const report = readReport(join(out, 'report.json'));
    expect(report.results.map((r) => r.system)).toEqual(['engine', 'seed-port']);
  });
});

describe('sluice bench --profile --out DIR', () => {
  let out: string;
  let exit: Exit;
  const profiles = () => readdirSync(join(out, 'profiles')).filter((f) => f.endsWith('.cpuprofile'));

  beforeAll(async () => {
    out = join(tempDir(), 'profiled');
    exit = await sluice('bench', ...SHORT_RUN, '--systems', 'engine', '--profile', '--out', out);
  });

  it('writes parseable CPU profiles of the main thread, the worker and each producer thread, named by role', () => {
    expect(exit.code, exit.stderr).toBe(0);
    const files = profiles().sort();
    // One worker (SHORT_RUN) and the default two producer threads.
    expect(files).toEqual([
      'engine.producer-1.cpuprofile',
      'engine.producer-2.cpuprofile',
      'engine.worker-1.cpuprofile',
      'main.cpuprofile',
    ]);
    for (const file of files) {
      const profile = JSON.parse(readFileSync(join(out, 'profiles', file), 'utf8')) as {
        nodes?: unknown[];
        samples?: unknown[];
      };
      expect(Array.isArray(profile.nodes) && profile.nodes.length > 0, `${file} has nodes`).toBe(true);
      expect(Array.isArray(profile.samples), `${file} has samples`).toBe(true);
    }
  });

  it('summarises each thread’s profile: time by kind of code summing to the whole, and its top functions', () => {
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as BenchReport;
    const summaries = report.profileSummaries ?? [];
    expect(summaries.map((s) => s.thread).sort()).toEqual([
      'engine.producer-1',
      'engine.producer-2',
      'engine.worker-1',
      'main',
    ]);
    for (const summary of summaries) {
      const total = Object.values(summary.shares).reduce((n, x) => n + x, 0);
      expect(total, summary.thread).toBeCloseTo(1, 6);
      expect(summary.top.length, summary.thread).toBeGreaterThan(0);
      expect(existsSync(resolve(out, summary.flameGraph!)), `${summary.thread}'s flame graph`).toBe(true);
    }
    // The worker ran the scenario's transform and Sluice's event path; the producers pushed.
    const worker = summaries.find((s) => s.thread === 'engine.worker-1')!;
    expect(worker.shares.sluice).toBeGreaterThan(0);
    expect(exit.stdout).toContain('engine.worker-1 — ');
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('Top functions by self time');
  });

  it('links each profile from report.md and report.json by a path that resolves from --out', () => {
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as BenchReport;
    const markdown = readFileSync(join(out, 'report.md'), 'utf8');
    const linked = [...markdown.matchAll(/\]\(([^)]*\.cpuprofile)\)/g)].map((m) => m[1]!);
    expect(linked.length).toBeGreaterThan(0);
    expect(report.profiles?.length).toBeGreaterThan(0);
    for (const path of [...linked, ...(report.profiles ?? [])]) {
      expect(existsSync(resolve(out, path)), `${path} exists relative to ${out}`).toBe(true);
    }
  });

  it('lists every profile written, the main thread’s included, in report.json', () => {
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as BenchReport;
    const listed = (report.profiles ?? []).map((p) => p.split('/').at(-1)).sort();
    expect(listed).toEqual(profiles().sort());
  });
});
