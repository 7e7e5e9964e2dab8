/**
 * `sluice top`, run as the built CLI (`npm run build` first) against a live pipeline with traffic,
 * plus its frame rendered from two known snapshots.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderFrame } from '../../src/cli/top-frame.js';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import type { LiveStats } from '../../src/metrics/live-stats.js';
import { createMetricsServer, type MetricsServer } from '../../src/metrics/metrics-server.js';
import type { QueueOptions } from '../../src/queue/queue-options.js';
import { type Exit, runCli } from '../helpers/cli.js';

/** Runs the CLI without blocking this process's event loop (the traffic keeps flowing meanwhile). */
function sluice(...args: string[]): Promise<Exit> {
  return runCli(args);
}

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

let pipeline: Pipeline | undefined;
let server: MetricsServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  await pipeline?.close().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
  pipeline = undefined;
  server = undefined;
  dir = undefined;
});

/**
 * `sluice top --once` against a pipeline (SQLite sink, one worker, `queue` as given) served on a
 * free port while events flow into it.
 */
async function topWhileEventsFlow(queueIn?: (dir: string) => QueueOptions): Promise<Exit> {
  dir = mkdtempSync(join(tmpdir(), 'sluice-top-'));
  const p = await createPipeline({
    ...(queueIn ? { queue: queueIn(dir) } : {}),
    workers: { min: 1, max: 1 },
    sink: { type: 'sqlite', path: join(dir, 'out.db') },
    deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
  });
  pipeline = p;
  server = await createMetricsServer(p, { port: 0 });
  let pushing = true;
  const traffic = (async () => {
    let n = 0;
    while (pushing) {
      await p.pushMany(Array.from({ length: 200 }, () => ({ id: `t-${n++}`, payload: { n } })));
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  try {
    return await sluice('top', '--url', server.url, '--once', '--interval', '300');
  } finally {
    pushing = false;
    await traffic;
  }
}

describe('sluice top', () => {
  it('prints one frame of live figures with --once while events flow', async () => {
    const run = await topWhileEventsFlow();
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const inRate = Number(/in {2}([\d,]+) events\/s/.exec(run.stdout)?.[1]?.replaceAll(',', ''));
    const outRate = Number(/out {2}([\d,]+) events\/s/.exec(run.stdout)?.[1]?.replaceAll(',', ''));
    expect(inRate).toBeGreaterThan(0);
    expect(outRate).toBeGreaterThan(0);
    expect(run.stdout).toMatch(/written {2}[1-9][\d,]*/);
    expect(run.stdout).toMatch(/p50 {2}[\d.,]+ ms/);
    expect(run.stdout).toMatch(/p99 {2}[\d.,]+ ms/);
    expect(run.stdout).toMatch(/RING {8}\[[#-]+\] [\d.]+ % full {3}[\d.]+ \w*B of 16\.0 MiB/);
    expect(run.stdout).toMatch(/depth {2}[\d,]+ events/);
    expect(run.stdout).toMatch(/blocked {2}[\d.]+ s/);
    expect(run.stdout).toContain('1 worker thread');
    expect(run.stdout).toMatch(/dead letters {2}0 /);
    expect(run.stdout).toContain('live · ready');
    // The queue is in memory alone: no disk figures.
    expect(run.stdout).not.toMatch(/^DISK/m);
    // One frame, no cursor movement: safe to pipe.
    expect(run.stdout).not.toContain('\x1b[');
  });

  it('prints the DISK lines with --once for a pipeline on a disk queue', async () => {
    const run = await topWhileEventsFlow((dir) => ({
      durability: 'disk',
      path: join(dir, 'q'),
      maxDiskBytes: 8 * 1024 * 1024,
    }));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^DISK {8}\[[#-]+\] [\d.]+ % of max {3}backlog {2}[\d,]+ events, [\d.]+ \w*B of 8\.0 MiB$/m,
    );
    const fsyncs =
      /^ {12}log {2}[\d.]+ \w*B, [\d,]+ events +fsync group {2}([\d.,]+)\/s, [\d.]+ ms each.* {3}replayed at start {2}0$/m.exec(
        run.stdout,
      );
    // Every push waits for its fsync (group): events flowing mean fsyncs in the interval.
    expect(Number(fsyncs?.[1]?.replaceAll(',', ''))).toBeGreaterThan(0);
  });

  it('derives rates from two snapshots and draws ring fill as a text bar', () => {
    const base: LiveStats = {
      takenAt: 1_000_000,
      pushed: 1000,
      written: 800,
      deadLettered: 2,
      dropped: 0,
      retries: 10,
      queueDepthEvents: 200,
      queueDepthBytes: 4096,
      queueCapacityBytes: 16384,
      producerBlockedSeconds: 1,
      backpressureEvents: 3,
      latencyP50Ms: 2.5,
      latencyP99Ms: 25,
      workers: 4,
      workerUtilization: 0.5,
      busySeconds: 10,
      sinkWriteSeconds: 4,
      sinkFailingSeconds: 0,
      ready: true,
      notReadyReasons: [],
    };
    const later = {
      ...base,
      takenAt: base.takenAt + 500,
      pushed: 2000,
      written: 1800,
      retries: 15,
      producerBlockedSeconds: 1.25,
      queueDepthBytes: 8192,
    };
    const frame = renderFrame(later, base, {
      url: 'http://x:1',
      intervalMs: 500,
      columns: 200,
      interactive: true,
    });
    const text = frame.join('\n');
    expect(text).toContain('in  2,000 events/s');
    expect(text).toContain('out  2,000 events/s');
    expect(text).toContain('retries  15 (10/s)');
    expect(text).toContain('now blocked  50.0 % of the time');
    expect(text).toContain(`[${'#'.repeat(20)}${'-'.repeat(20)}] 50.0 % full   8.0 KiB of 16.0 KiB`);
    expect(text).toContain('4 worker threads');
    expect(text).toContain('q or Ctrl-C to quit');
    expect(frame.every((line) => line.length <= 200)).toBe(true);

    // A broker source, a sink failing, and a terminal 80 columns wide: the verdict wraps.
    const failing = {
      ...later,
      ready: false,
      notReadyReasons: ['sink failing every write for 12 s'],
      sinkFailingSeconds: 12,
      source: { source: 'redis-streams', waiting: 1234, unacked: 100, held: 40, at: later.takenAt },
    };
    const narrow = renderFrame(failing, base, {
      url: 'http://x:1',
      intervalMs: 500,
      columns: 80,
      interactive: false,
    });
    const shown = narrow.join('\n');
    expect(shown).toContain('SOURCE      redis-streams  lag  1,234');
    expect(shown).toContain('unacked  100   held here  40');
    expect(shown).toContain('NOT READY   sink failing every write for 12 s');
    const pace = narrow.findIndex((line) => line.startsWith('PACE'));
    expect(narrow[pace]).toMatch(/^PACE {8}The sink is failing every write \(for 12 s\)/);
    expect(narrow[pace + 1]).toMatch(/^ {12}\S/);
    expect(narrow.every((line) => line.length <= 80)).toBe(true);
  });

  it('shows each route of a pipeline with several: its writes per second, and a failing one', () => {
    const base: LiveStats = {
      takenAt: 2_000_000,
      pushed: 100,
      written: 150,
      deadLettered: 0,
      dropped: 0,
      retries: 0,
      queueDepthEvents: 0,
      queueDepthBytes: 0,
      queueCapacityBytes: 16384,
      producerBlockedSeconds: 0,
      backpressureEvents: 0,
      latencyP50Ms: 1,
      latencyP99Ms: 2,
      workers: 2,
      workerUtilization: 0.1,
      busySeconds: 1,
      sinkWriteSeconds: 0.5,
      sinkFailingSeconds: 0,
      ready: true,
      notReadyReasons: [],
      routes: [
        { name: 'orders', written: 100, failingSeconds: 0 },
        { name: 'archive', written: 50, failingSeconds: 0 },
      ],
    };
    const later: LiveStats = {
      ...base,
      takenAt: base.takenAt + 1000,
      routes: [
        { name: 'orders', written: 400, failingSeconds: 0 },
        { name: 'archive', written: 50, failingSeconds: 7 },
      ],
    };
    const text = renderFrame(later, base, {
      url: 'http://x:1',
      intervalMs: 1000,
      columns: 120,
      interactive: false,
    }).join('\n');
    expect(text).toMatch(/^ROUTES +orders +300 events\/s +written {2}400$/m);
    expect(text).toMatch(/^ +archive +0\.0 events\/s +written {2}50 {3}FAILING for 7 s$/m);
  });

  it("shows a disk queue's backlog against maxDiskBytes, its log, fsyncs per second and time each, and what was replayed", () => {
    const memory: LiveStats = {
      takenAt: 3_000_000,
      pushed: 5000,
      written: 1000,
      deadLettered: 0,
      dropped: 0,
      retries: 0,
      queueDepthEvents: 100,
      queueDepthBytes: 8192,
      queueCapacityBytes: 16384,
      producerBlockedSeconds: 0,
      backpressureEvents: 0,
      latencyP50Ms: 1,
      latencyP99Ms: 2,
      workers: 1,
      workerUtilization: 0.5,
      busySeconds: 1,
      sinkWriteSeconds: 0.5,
      sinkFailingSeconds: 0,
      ready: true,
      notReadyReasons: [],
    };
    const disk = {
      bytes: 3 * 1024 * 1024,
      events: 4000,
      backlogEvents: 3900,
      backlogBytes: 256 * 1024,
      maxDiskBytes: 1024 * 1024,
      fsync: 'group' as const,
      fsyncs: 100,
      fsyncSeconds: 0.2,
      replayed: 1234,
    };
    const base: LiveStats = { ...memory, disk };
    // 50 fsyncs in 500 ms, 0.1 s of them: 100 fsyncs/s, 2 ms each.
    const later: LiveStats = {
      ...memory,
      takenAt: memory.takenAt + 500,
      disk: { ...disk, fsyncs: 150, fsyncSeconds: 0.3 },
    };
    const ctx = { url: 'http://x:1', intervalMs: 500, columns: 160, interactive: false };
    const frame = renderFrame(later, base, ctx);
    const at = frame.findIndex((line) => line.startsWith('DISK'));
    // Below the ring's lines: the log is the queue's other half.
    expect(frame[at - 1]).toMatch(/^ +depth {2}100 events/);
    expect(frame[at]).toBe(
      `DISK        [${'#'.repeat(10)}${'-'.repeat(30)}] 25.0 % of max   backlog  3,900 events, 256.0 KiB of 1.0 MiB`,
    );
    expect(frame[at + 1]).toMatch(
      /^ {12}log {2}3\.0 MiB, 4,000 events +fsync group {2}100\/s, 2\.00 ms each {3}replayed at start {2}1,234$/,
    );
    expect(frame.every((line) => line.length <= 160)).toBe(true);

    // No fsync since the previous snapshot: the rate is 0 and the time each is the mean since start.
    const idle = renderFrame({ ...later, takenAt: later.takenAt + 500 }, later, ctx).join('\n');
    expect(idle).toContain('fsync group  0.0/s, 2.00 ms each (since start)');
    // The first snapshot has no rate yet.
    expect(renderFrame(base, undefined, ctx).join('\n')).toContain(
      'fsync group  –/s, 2.00 ms each (since start)',
    );

    // A queue in memory alone has no DISK lines.
    const plain = renderFrame({ ...memory, takenAt: memory.takenAt + 500 }, memory, ctx);
    expect(plain.some((line) => line.startsWith('DISK'))).toBe(false);
    expect(plain.join('\n')).not.toContain('fsync');
  });

  it('rejects a bad flag with exit 64, naming the flag and the value', async () => {
    const interval = await sluice('top', '--interval', 'soon');
    expect(interval.code).toBe(64);
    expect(interval.stderr).toContain('--interval');
    expect(interval.stderr).toContain('"soon"');
    const unknown = await sluice('top', '--colour');
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('--colour');
    const url = await sluice('top', '--url', 'ftp://example');
    expect(url.code).toBe(64);
    expect(url.stderr).toContain('--url');
  });

  it('exits 1 with --once, saying why, when the server cannot be reached', async () => {
    const port = await freePort();
    const run = await sluice('top', '--url', `http://127.0.0.1:${port}`, '--once');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot reach http://127.0.0.1:${port}/api/stats`);
    expect(run.stderr).toContain('ECONNREFUSED');
    expect(run.stdout).toBe('');
  });
});
