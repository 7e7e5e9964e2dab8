/**
 * The flame graph `sluice bench --profile` writes beside each profile: an SVG whose frames are as
 * wide as their total time, and which opens in a real headless Chromium from the report folder
 * with no request beyond the file itself.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { flameGraphSvg } from '../../src/harness/report/flame-graph.js';
import type { CpuProfile } from '../../src/harness/report/profile-summary.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const ROOT = 'file:///app/dist/';
const KINDS = { sluiceRoot: ROOT, transform: '/app/transform.mjs' };

// (root) → run → { enrich (transform, 3 ms), write (sink, 1 ms) }, plus 2 ms idle left out.
const PROFILE: CpuProfile & { nodes: { children?: number[] }[] } = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 5] },
    {
      id: 2,
      callFrame: { functionName: 'run', url: `${ROOT}src/engine/worker-runtime.js`, lineNumber: 10 },
      children: [3, 4],
    },
    { id: 3, callFrame: { functionName: 'enrich', url: 'file:///app/transform.mjs', lineNumber: 4 } },
    { id: 4, callFrame: { functionName: 'write', url: `${ROOT}src/sinks/sqlite-sink.js`, lineNumber: 99 } },
    { id: 5, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
  ],
  samples: [3, 3, 3, 4, 5, 5, 3],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000],
};

/** Each frame's rectangle: its tooltip's first words and its width. */
function frames(svg: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of svg.matchAll(/<title>([^<]*)<\/title><rect x="[\d.]+" y="\d+" width="([\d.]+)"/g)) {
    out.set(m[1]!.split(' ')[0]!, Number(m[2]));
  }
  return out;
}

describe('flameGraphSvg', () => {
  it('draws every frame as wide as its total time, idle left out', () => {
    const widths = frames(flameGraphSvg(PROFILE, 'engine.worker-1', KINDS));
    expect([...widths.keys()].sort()).toEqual(['(root)', 'enrich', 'run', 'write']);
    // 4 ms of CPU over 1200 px: run 4 ms, enrich 3 ms, write 1 ms.
    expect(widths.get('(root)')).toBeCloseTo(1200, 1);
    expect(widths.get('run')).toBeCloseTo(1200, 1);
    expect(widths.get('enrich')).toBeCloseTo(900, 1);
    expect(widths.get('write')).toBeCloseTo(300, 1);
  });

  it('names the function, where it is, its time and its kind in each tooltip, and fetches nothing', () => {
    const svg = flameGraphSvg(PROFILE, 'engine.worker-1', KINDS);
    expect(svg).toContain('<title>enrich (transform.mjs:5) — 3.0 ms, 75.0 % [transform]</title>');
    expect(svg).toContain('<title>write (sqlite-sink.js:100) — 1.0 ms, 25.0 % [sink]</title>');
    expect(svg.match(/https?:\/\/[^"\s<]*/g)).toEqual(['http://www.w3.org/2000/svg']);
    expect(svg).not.toMatch(/<script|href=|<image|@import/);
  });
});

if (!hasChromium && process.env.CI !== 'true')
  console.log(
    `flame graph browser test skipped: ${CHROMIUM} is missing (install Debian's chromium to run it)`,
  );

describe.runIf(!hasChromium && process.env.CI === 'true')('the flame graph in CI', () => {
  it('has a Chromium to open it in', () => {
    throw new Error(`${CHROMIUM} is missing; .ci/run installs Debian's chromium before npm ci`);
  });
});

describe.runIf(hasChromium)('the flame graph in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-flame-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('opens from the report folder with no request beyond the file, every frame drawn with its tooltip', async () => {
    const file = join(dir, 'engine.worker-1.flame.svg');
    writeFileSync(file, flameGraphSvg(PROFILE, 'engine.worker-1', KINDS));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1300, height: 400 } });
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      page.on('pageerror', (error) => errors.push(String(error)));
      await page.goto(pathToFileURL(file).href);
      expect(requests).toEqual([pathToFileURL(file).href]);
      expect(errors).toEqual([]);
      const drawn = await page.$$eval('g > rect', (rects) =>
        rects.map((r) => ({
          title: r.parentElement?.querySelector('title')?.textContent ?? '',
          width: r.getBoundingClientRect().width,
        })),
      );
      expect(drawn.map((d) => d.title.split(' ')[0]).sort()).toEqual(['(root)', 'enrich', 'run', 'write']);
      expect(drawn.find((d) => d.title.startsWith('enrich'))!.width).toBeCloseTo(900, 0);
    } finally {
      await browser.close();
    }
  });
});
