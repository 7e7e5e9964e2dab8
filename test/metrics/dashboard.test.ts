/**
 * The live dashboard in a real headless Chromium, against a running pipeline with traffic. The
 * page and uPlot are served from dist/ (the build copies uPlot there), so this suite needs
 * `npm run build` first, as the engine suites do for the worker.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineOptions } from '../../src/config/pipeline-options.js';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import type * as MetricsServerModule from '../../src/metrics/metrics-server.js';
import type { MetricsServer } from '../../src/metrics/metrics-server.js';
import { createControl, FAILING } from '../fixtures/engine/control.js';
import { createRecordingTable } from '../fixtures/engine/recording-table.js';
import { fixtureUrl } from '../helpers/engine.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const SOURCE_DIR = fileURLToPath(new URL('../../src/metrics/dashboard/', import.meta.url));
const BUILT_DIR = fileURLToPath(new URL('../../dist/src/metrics/dashboard/', import.meta.url));
const ARTIFACTS = join(tmpdir(), 'sluice-test-artifacts');
const SCREENSHOT = join(ARTIFACTS, 'dashboard.png');

/** The built server: run from src/, it would look for the page (and uPlot) in src/. */
/** Headless Debian Chromium and a page on it, its console errors and page errors collected. */
async function openPage(consoleErrors: string[]): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  return { browser, page };
}

async function builtServer(): Promise<typeof MetricsServerModule> {
  return import(new URL('../../dist/src/metrics/metrics-server.js', import.meta.url).href);
}

if (!hasChromium && process.env.CI !== 'true')
  console.log(`dashboard tests skipped: ${CHROMIUM} is missing (install Debian's chromium to run them)`);

describe.runIf(!hasChromium && process.env.CI === 'true')('the dashboard in CI', () => {
  it('has a Chromium to run in', () => {
    throw new Error(`${CHROMIUM} is missing; .ci/run installs Debian's chromium before npm ci`);
  });
});

describe.runIf(hasChromium)('the live dashboard', () => {
  let dir: string;
  let pipeline: Pipeline;
  let server: MetricsServer | undefined;
  let createMetricsServer: typeof MetricsServerModule.createMetricsServer;
  let browser: Browser;
  let page: Page;
  let pushing = true;
  let traffic: Promise<void>;
  const consoleErrors: string[] = [];
  const foreignRequests: string[] = [];

  /** The number a figure shows, from its data-value attribute (what the page rendered). */
  const figure = async (name: string): Promise<number> =>
    Number(await page.locator(`[data-stat="${name}"]`).getAttribute('data-value'));
  /** Waits until the page shows `name` above `floor` (the expression runs in the page). */
  const figureAbove = (name: string, floor: number) =>
    page.waitForFunction(
      `Number(document.querySelector('[data-stat="${name}"]')?.getAttribute('data-value')) > ${floor}`,
    );
  const showsText = (name: string, text: string) =>
    page.locator(`[data-stat="${name}"]`, { hasText: new RegExp(`^${text}$`) }).waitFor();

  beforeAll(async () => {
    for (const file of ['index.html', 'dashboard.js']) {
      const built = join(BUILT_DIR, file);
      if (!existsSync(built) || readFileSync(built, 'utf8') !== readFileSync(join(SOURCE_DIR, file), 'utf8'))
        throw new Error(`dist/src/metrics/dashboard/${file} is missing or stale: run npm run build`);
    }
    ({ createMetricsServer } = await builtServer());
    dir = mkdtempSync(join(tmpdir(), 'sluice-dashboard-'));
    // Two routes, every event to both: the routes tile lists them.
    const every = { path: 'id', matches: '^d-' } as const;
    pipeline = await createPipeline({
      workers: { min: 1, max: 1 },
      routes: {
        main: { sink: { type: 'sqlite', path: join(dir, 'out.db') }, when: every },
        copy: { sink: { type: 'null' }, when: every },
      },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
    });
    server = await createMetricsServer(pipeline, { port: 0 });
    traffic = (async () => {
      let n = 0;
      while (pushing) {
        await pipeline.pushMany(Array.from({ length: 200 }, () => ({ id: `d-${n++}`, payload: { n } })));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    ({ browser, page } = await openPage(consoleErrors));
    page.on('request', (request) => {
      if (new URL(request.url()).hostname !== '127.0.0.1') foreignRequests.push(request.url());
    });
    await page.goto(server.url);
  });

  afterAll(async () => {
    pushing = false;
    await traffic?.catch(() => undefined);
    await browser?.close();
    await server?.close();
    await pipeline?.close().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows events flowing: the written count climbs and events/s in and out turn positive', async () => {
    await figureAbove('written', 0);
    const first = await figure('written');
    await figureAbove('written', first);
    expect(await figure('written')).toBeGreaterThan(first);
    await figureAbove('eventsInPerSec', 0);
    await figureAbove('eventsOutPerSec', 0);
    expect(await page.locator('[data-stat="eventsInPerSec"]').textContent()).toMatch(/^[\d,.]+$/);
    expect(await figure('queueCapacityBytes')).toBeGreaterThan(0);
    expect(await figure('workers')).toBe(1);
    expect(await page.locator('[data-stat="connection"]').textContent()).toBe('live');
    expect(await page.locator('[data-stat="ready"]').textContent()).toBe('ready');
  });

  it('shows where an event’s time goes: in the ring, decode + transform, sink write, release wait', async () => {
    await figureAbove('stage-sinkWrite', 0);
    for (const stage of ['queueWait', 'decodeTransform', 'sinkWrite', 'releaseWait'])
      expect(Number.isFinite(await figure(`stage-${stage}`))).toBe(true);
    const widths = await page
      .locator('[data-stat="stagesBar"] > span')
      .evaluateAll((spans) =>
        spans.map((s) => Number.parseFloat((s as unknown as { style: { width: string } }).style.width)),
      );
    expect(widths).toHaveLength(4);
    expect(widths.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
  });

  it('lists each route with its writes per second', async () => {
    await page.waitForFunction(
      `['main', 'copy'].every((name) => Number(document.querySelector('[data-route="' + name + '"]')?.dataset.value) > 0)`,
    );
    expect(await page.locator('[data-stat="routesTile"]').isVisible()).toBe(true);
    const rows = await page.locator('[data-stat="routes"] > div').allTextContents();
    expect(rows.map((row) => row.split(' ')[0])).toEqual(['main', 'copy']);
    for (const row of rows) expect(row).toMatch(/^\w+ {2}[\d,.]+[kM]? \/s$/);
  });

  it('shows no disk-queue tile for a queue in memory', async () => {
    await figureAbove('written', 0);
    expect(await page.locator('[data-stat="diskTile"]').isHidden()).toBe(true);
    expect(await page.locator('[data-stat="diskTile"]').getAttribute('hidden')).not.toBeNull();
  });

  it('draws four uPlot charts with axis labels and legends, and screenshots them', async () => {
    for (const chart of ['throughputChart', 'latencyChart', 'queueChart', 'workChart'])
      await expect(page.locator(`[data-stat="${chart}"] .uplot canvas`).count()).resolves.toBe(1);
    // uPlot draws axes on the canvas; their labels are read from the charts themselves.
    const axisLabels = await page.evaluate(() =>
      Object.values(
        (globalThis as unknown as { sluiceCharts: Record<string, { axes: { label?: string }[] }> })
          .sluiceCharts,
      ).map((chart) => chart.axes.map((axis) => axis.label)),
    );
    expect(axisLabels).toEqual([
      ['time (local)', 'events/s'],
      ['time (local)', 'latency (ms)'],
      ['time (local)', 'fill (% of capacity)', 'depth (events)'],
      ['time (local)', '% of time'],
    ]);
    const legend = await page.locator('[data-stat="throughputChart"] .u-legend').textContent();
    expect(legend).toContain('in (pushed)');
    expect(legend).toContain('out (written)');
    // A few more samples so the lines have some length in the picture.
    const shown = await figure('updated');
    await figureAbove('updated', shown + 3000);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`dashboard screenshot: ${SCREENSHOT}`);
  });

  it('says in words what sets the pace, from the figures it shows', async () => {
    await page.waitForFunction(
      `['idle', 'producers', 'sink-down', 'sink', 'transform', 'dispatch'].includes(document.querySelector('[data-stat="boundBy"]')?.getAttribute('data-bound'))`,
    );
    const verdict = page.locator('[data-stat="boundBy"]');
    const [bound, text] = [await verdict.getAttribute('data-bound'), await verdict.textContent()];
    // The sentence is the one for the state the page judged, with the figures it judged by.
    const opening: Record<string, RegExp> = {
      idle: /^Idle: nothing is arriving/,
      producers: /^The producers set the pace: .* \(ring \d+ % full, workers \d+ % busy\)\.$/,
      'sink-down': /^The sink is failing every write \(for \d+ s\)/,
      sink: /^The sink sets the pace: the ring is \d+ % full .* \d+ % of it inside sink writes\.$/,
      transform: /^Decoding and the transform set the pace: the ring is \d+ % full/,
      dispatch: /^Workers are only \d+ % busy while the ring is \d+ % full/,
    };
    expect(text).toMatch(opening[bound!]!);
  });

  it('opens with the recent past: a page loaded now draws the seconds before it from /api/history', async () => {
    const history = (await (await fetch(`${server!.url}/api/history`)).json()) as { takenAt: number }[];
    expect(history.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < history.length; i++)
      expect(history[i]!.takenAt).toBeGreaterThan(history[i - 1]!.takenAt);
    const fresh = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    try {
      await fresh.goto(server!.url);
      await fresh.locator('[data-stat="connection"]', { hasText: /^live$/ }).waitFor();
      // One poll alone would give one point; the history gives every second before the page.
      const points = await fresh.evaluate(
        () =>
          (globalThis as unknown as { sluiceCharts: Record<string, { data: number[][] }> }).sluiceCharts
            .throughputChart!.data[0]!.length,
      );
      expect(points).toBeGreaterThanOrEqual(history.length);
    } finally {
      await fresh.close();
    }
  });

  it.each([
    [390, 844, 'dashboard-390.png'],
    [1440, 900, 'dashboard-1440.png'],
  ])('fits a %i px wide screen without scrolling sideways', async (width, height, name) => {
    const sized = await browser.newPage({ viewport: { width, height } });
    try {
      await sized.goto(server!.url);
      await sized.locator('[data-stat="connection"]', { hasText: /^live$/ }).waitFor();
      await sized.waitForFunction(`document.querySelectorAll('.uplot canvas').length === 4`);
      const { scrollWidth, clientWidth } = (await sized.evaluate(
        `({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })`,
      )) as { scrollWidth: number; clientWidth: number };
      expect(clientWidth).toBeLessThanOrEqual(width);
      expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
      mkdirSync(ARTIFACTS, { recursive: true });
      await sized.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
    } finally {
      await sized.close();
    }
  });

  it('logs no console errors and asks nothing of any host but the server', () => {
    expect(consoleErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });

  it('says disconnected when the server goes away, and goes live again when it returns', async () => {
    const port = Number(new URL(server!.url).port);
    await server!.close();
    server = undefined;
    await showsText('connection', 'disconnected — retrying');
    expect(await page.locator('[data-stat="updated"]').textContent()).toContain('cannot reach /api/stats');
    // Readiness cannot be known without the server: the badge stops saying "ready".
    expect(await page.locator('[data-stat="ready"]').textContent()).toBe('ready: unknown');
    expect(await page.locator('[data-stat="ready"]').getAttribute('class')).not.toContain('ok');
    server = await createMetricsServer(pipeline, { port });
    await showsText('connection', 'live');
    await figureAbove('written', await figure('written'));
  });
});

describe.runIf(hasChromium)('the live dashboard of a pipeline on a disk queue', () => {
  const MAX_DISK_BYTES = 32 * 1024 * 1024;
  const REPLAYED = 2_000;
  let dir: string;
  let pipeline: Pipeline | undefined;
  let server: MetricsServer | undefined;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  const figure = async (name: string): Promise<number> =>
    Number(await page.locator(`[data-stat="${name}"]`).getAttribute('data-value'));
  const events = (from: number, n: number) =>
    Array.from({ length: n }, (_, k) => ({
      id: `k-${from + k}`,
      payload: { i: from + k, pad: 'x'.repeat(80) },
    }));

  beforeAll(async () => {
    const { createMetricsServer } = await builtServer();
    dir = mkdtempSync(join(tmpdir(), 'sluice-dashboard-disk-'));
    const db = new Database(join(dir, 'sink.db'));
    createRecordingTable(db, 'rows', false);
    db.close();
    // The sink fails every write: what is pushed stays in the log, a backlog beyond a small ring.
    const control = createControl();
    Atomics.store(new Int32Array(control), FAILING, 1);
    const options: PipelineOptions = {
      queue: {
        durability: 'disk',
        path: join(dir, 'q'),
        capacityBytes: 64 * 1024,
        maxDiskBytes: MAX_DISK_BYTES,
      },
      workers: { min: 1, max: 1 },
      sink: {
        module: fixtureUrl('test-sink'),
        options: { path: join(dir, 'sink.db'), table: 'rows', unique: false, control },
      },
      deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
      retry: { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 1_000_000 },
      log: { level: 'silent' },
    };
    // A first run leaves its events in the log: the second replays them at start.
    const first = await createPipeline(options);
    await first.pushMany(events(0, REPLAYED));
    await first.close({ timeoutMs: 200 }).catch(() => undefined);
    pipeline = await createPipeline(options);
    server = await createMetricsServer(pipeline, { port: 0 });
    ({ browser, page } = await openPage(consoleErrors));
    await page.goto(server.url);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await pipeline?.close({ timeoutMs: 200 }).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the disk queue tile: fsyncs per second while pushes flow, then the backlog against maxDiskBytes, the log, the time an fsync takes and what was replayed', async () => {
    const p = pipeline!;
    await page.locator('[data-stat="diskTile"]').waitFor({ state: 'visible' });
    // Every push waits for its fsync (fsync: group): while pushes flow, the page counts fsyncs.
    let pushed = 0;
    let pushing = true;
    const traffic = (async () => {
      while (pushing) {
        await p.pushMany(events(REPLAYED + pushed, 20));
        pushed += 20;
      }
    })();
    try {
      await page.waitForFunction(
        `Number(document.querySelector('[data-stat="diskFsyncsPerSec"]')?.dataset.value) > 0`,
      );
    } finally {
      pushing = false;
      await traffic;
    }
    // Pushes stopped and the sink still fails: nothing changes any more, so the page's figures and
    // the pipeline's own must agree exactly, once the page has seen an interval without an fsync.
    const total = REPLAYED + pushed;
    await page.waitForFunction(
      `document.querySelector('[data-stat="diskFsyncsPerSec"]')?.dataset.value === '0' && ` +
        `Number(document.querySelector('[data-stat="diskEvents"]')?.dataset.value) === ${total}`,
    );
    const disk = p.liveStats().disk!;
    expect(disk.events).toBe(total);
    expect(disk.backlogEvents).toBeGreaterThan(0);
    expect(await figure('diskEvents')).toBe(total);
    expect(await figure('diskReplayed')).toBe(REPLAYED);
    expect(await figure('diskBacklogEvents')).toBe(disk.backlogEvents);
    expect(await figure('diskBacklogBytes')).toBe(disk.backlogBytes);
    expect(await figure('diskMaxBytes')).toBe(MAX_DISK_BYTES);
    expect(await figure('diskBytes')).toBe(disk.bytes);
    expect(await figure('diskBacklogPercent')).toBeCloseTo((100 * disk.backlogBytes) / MAX_DISK_BYTES, 9);
    expect(await figure('diskBacklogBar')).toBeCloseTo((100 * disk.backlogBytes) / MAX_DISK_BYTES, 9);
    const barWidth = await page
      .locator('[data-stat="diskBacklogBar"] > div')
      .evaluate((el) => Number.parseFloat((el as unknown as { style: { width: string } }).style.width));
    expect(barWidth).toBeCloseTo((100 * disk.backlogBytes) / MAX_DISK_BYTES, 3);
    // No fsync in the last interval: the time one takes is the mean since start.
    expect(disk.fsyncs).toBeGreaterThan(0);
    expect(await figure('diskFsyncMs')).toBeCloseTo((disk.fsyncSeconds * 1000) / disk.fsyncs, 9);
    expect(await page.locator('[data-stat="diskFsyncMs"]').getAttribute('title')).toBe(
      'mean of every fsync since start',
    );
    expect(await page.locator('[data-stat="diskFsync"]').textContent()).toBe('group');
    expect(await page.locator('[data-stat="diskMaxBytes"]').textContent()).toBe('32.0 MiB');
    expect(await page.locator('[data-stat="diskReplayed"]').textContent()).toBe('2,000');
    expect(consoleErrors).toEqual([]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-disk.png'), fullPage: true });
  });
});
