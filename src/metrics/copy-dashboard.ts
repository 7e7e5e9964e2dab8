/**
 * Build step: puts the dashboard page, its browser modules and the charting library it uses (uPlot,
 * from node_modules: served locally, no CDN — the page must work on a machine without internet)
 * next to the built metrics server, in dist/src/metrics/dashboard/. Its TypeScript module
 * (live-rates.ts, shared with `sluice top`) is compiled there by tsc; its tsconfig.json only
 * type-checks the page's JavaScript.
 */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, 'dashboard');
const source = join(here, '..', '..', '..', 'src', 'metrics', 'dashboard');
mkdirSync(target, { recursive: true });
/** What the browser loads as it is written. */
const BROWSER_FILE = /\.(html|js|css)$/;
for (const file of readdirSync(source)) {
  if (BROWSER_FILE.test(file)) copyFileSync(join(source, file), join(target, file));
}
const uplot = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
copyFileSync(join(uplot, 'uPlot.iife.min.js'), join(target, 'uplot.min.js'));
copyFileSync(join(uplot, 'uPlot.min.css'), join(target, 'uplot.min.css'));
