// @ts-check
/**
 * The live dashboard: polls /api/stats (a LiveStats snapshot of cumulative counters and gauges),
 * derives rates from successive snapshots, and draws tiles and uPlot charts of the last two
 * minutes, starting from the server's /api/history so the charts open with the recent past.
 * Browser ES modules served as they are built — nothing fetched from elsewhere: format.js (how
 * figures are written), live-rates.js (rates, shared with `sluice top`), bound-by.js (what sets the
 * pace, in words), tiles.js, charts.js, and this poll loop.
 */
import { boundBy } from './bound-by.js';
import { addPoint, breakLines, createCharts, redrawCharts } from './charts.js';
import { isNum } from './format.js';
import { ratesBetween } from './live-rates.js';
import { fillPercent, renderTiles, show, statElement, tone } from './tiles.js';

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
/** The history is asked for on the first connection and after every reconnection. */
let needHistory = true;
/** The snapshot the verdict on the pace is judged from: about five seconds back. @type {LiveStats | null} */
let verdictFrom = null;

/** Takes one snapshot into the charts; returns the rates since the one before. @param {LiveStats} s */
function ingest(s) {
  const r = ratesBetween(prev, s);
  addPoint(s.takenAt / 1000, {
    inPerSec: r.inPerSec,
    outPerSec: r.outPerSec,
    p50: s.latencyP50Ms,
    p99: s.latencyP99Ms,
    fill: fillPercent(s),
    depth: s.queueDepthEvents,
    util: isNum(s.workerUtilization) ? s.workerUtilization * 100 : null,
    blocked: isNum(r.blockedShare) ? r.blockedShare * 100 : null,
  });
  prev = s;
  return r;
}

/** Says what sets the pace, judged over the last five seconds or so. @param {LiveStats} s */
function showVerdict(s) {
  const verdict = boundBy(verdictFrom, s);
  if (verdict) {
    show('boundBy', verdict.text, null);
    statElement('boundBy')?.setAttribute('data-bound', verdict.bound);
  }
  if (!verdictFrom || s.takenAt - verdictFrom.takenAt >= 5000) verdictFrom = s;
}

/** @param {LiveStats} s */
function onStats(s) {
  const r = ingest(s);
  renderTiles(s, r);
  showVerdict(s);
  redrawCharts();
  lastOkAt = Date.now();
  show('updated', `updated ${new Date(s.takenAt).toLocaleTimeString()}`, s.takenAt);
}

/** The server's recent snapshots newer than what the charts hold, taken in before the first poll. */
async function loadHistory() {
  try {
    const response = await fetch('/api/history', { cache: 'no-store' });
    if (!response.ok) return;
    const history = /** @type {LiveStats[]} */ (await response.json());
    if (!Array.isArray(history)) return;
    const after = prev?.takenAt ?? Number.NEGATIVE_INFINITY;
    for (const s of history) if (isNum(s?.takenAt) && s.takenAt > after) ingest(s);
    verdictFrom = history[Math.max(0, history.length - 6)] ?? null;
  } catch {
    // No history (an older server, or a hiccup): the charts start from the first poll.
  }
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
    verdictFrom = null;
    needHistory = true;
    document.body.classList.add('disconnected');
    tone('connection', 'bad');
    // Readiness is the server's to say: while it cannot be asked, it is unknown, not "ready".
    show('ready', 'ready: unknown', null);
    tone('ready', 'muted');
    show('boundBy', 'No figures: the server cannot be reached.', null);
    statElement('boundBy')?.setAttribute('data-bound', 'unknown');
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
    if (needHistory) {
      needHistory = false;
      await loadHistory();
    }
    onStats(stats);
  }
}

// For the console and for tests: the uPlot instances, by figure name.
/** @type {{ sluiceCharts?: unknown }} */ (globalThis).sluiceCharts = createCharts();
poll();
