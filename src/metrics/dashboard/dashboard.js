// @ts-check
/**
 * The live dashboard: polls /api/stats (a LiveStats snapshot of cumulative counters and gauges),
 * derives rates from successive snapshots, and draws tiles and uPlot charts of the last two
 * minutes. Browser ES modules served as they are built — nothing fetched from elsewhere:
 * format.js (how figures are written), live-rates.js (rates, shared with `sluice top`), tiles.js,
 * charts.js, and this poll loop.
 */
import { addPoint, breakLines, createCharts, redrawCharts } from './charts.js';
import { isNum } from './format.js';
import { ratesBetween } from './live-rates.js';
import { fillPercent, renderTiles, show, tone } from './tiles.js';

/** @typedef {import('../live-stats.js').LiveStats} LiveStats */

const POLL_MS = 500;
const RETRY_MS = 1000;
const TIMEOUT_MS = 2000;

/** @type {LiveStats | null} */
let prev = null;
/** @type {number | null} */
let lastOkAt = null;
/** @type {boolean | null} */
let connected = null;

/** @param {LiveStats} s */
function onStats(s) {
  const r = ratesBetween(prev, s);
  renderTiles(s, r);
  addPoint(s.t / 1000, {
    inPerSec: r.inPerSec,
    outPerSec: r.outPerSec,
    p50: s.latencyP50Ms,
    p99: s.latencyP99Ms,
    fill: fillPercent(s),
    depth: s.queueDepthEvents,
    util: isNum(s.workerUtilization) ? s.workerUtilization * 100 : null,
    blocked: isNum(r.blockedShare) ? r.blockedShare * 100 : null,
  });
  redrawCharts();
  prev = s;
  lastOkAt = Date.now();
  show('updated', `updated ${new Date(s.t).toLocaleTimeString()}`, s.t);
}

/** @param {boolean} ok @param {unknown} [error] */
function setConnected(ok, error) {
  if (ok) {
    if (connected !== true) {
      show('connection', 'live', 1);
      tone('connection', 'ok');
      document.body.classList.remove('disconnected');
    }
    connected = true;
    return;
  }
  if (connected !== false) {
    // Break the lines at the outage, and do not take a rate across it: the server may have restarted.
    breakLines(POLL_MS / 1000);
    prev = null;
    document.body.classList.add('disconnected');
    tone('connection', 'bad');
  }
  connected = false;
  const reason = error instanceof Error ? error.message : String(error);
  show('connection', 'disconnected — retrying', 0);
  const since = lastOkAt ? ` · last data ${Math.round((Date.now() - lastOkAt) / 1000)} s ago` : '';
  show('updated', `cannot reach /api/stats (${reason})${since}`, null);
}

async function poll() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  /** @type {LiveStats | null} */
  let stats = null;
  try {
    const response = await fetch('/api/stats', { cache: 'no-store', signal: controller.signal });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    stats = /** @type {LiveStats} */ (await response.json());
  } catch (error) {
    setConnected(false, error);
  } finally {
    clearTimeout(timer);
    setTimeout(poll, stats ? POLL_MS : RETRY_MS);
  }
  // Outside the try: a drawing bug should surface as an error, not pose as a lost connection.
  if (stats) {
    setConnected(true);
    onStats(stats);
  }
}

// For the console and for tests: the uPlot instances, by figure name.
/** @type {{ sluiceCharts?: unknown }} */ (globalThis).sluiceCharts = createCharts();
poll();
