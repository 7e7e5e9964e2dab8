// @ts-check
/** The dashboard's tiles: each element with a data-stat attribute shows one figure. */
import { fmtBig, fmtBytes, fmtInt, fmtMs, fmtPercent, fmtRate, isNum } from './format.js';

/** @typedef {import('../live-stats.js').LiveStats} LiveStats */
/** @typedef {import('./live-rates.js').Rates} Rates */

/** @type {Map<string, HTMLElement>} */
const statElements = new Map();
for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[data-stat]'))) {
  if (el.dataset.stat) statElements.set(el.dataset.stat, el);
}

/** The element named `name` by its data-stat attribute. @param {string} name */
export function statElement(name) {
  return statElements.get(name);
}

/**
 * Shows `text` in the element named `name`; `raw` (a number) goes to data-value for scripts and tests.
 * @param {string} name
 * @param {string} text
 * @param {unknown} raw
 */
export function show(name, text, raw) {
  const el = statElements.get(name);
  if (!el) return;
  if (el.textContent !== text) el.textContent = text;
  el.dataset.value = isNum(raw) ? String(raw) : '';
}

/**
 * Colours the element named `name`: ok, warn, bad, muted, or none.
 * @param {string} name
 * @param {'ok' | 'warn' | 'bad' | 'muted' | null} cls
 */
export function tone(name, cls) {
  const el = statElements.get(name);
  if (!el) return;
  el.classList.remove('ok', 'warn', 'bad', 'muted');
  if (cls) el.classList.add(cls);
}

/** The ring's fill, % of its capacity in bytes. @param {LiveStats} s */
export function fillPercent(s) {
  return s.queueCapacityBytes > 0 ? (100 * s.queueDepthBytes) / s.queueCapacityBytes : null;
}

/**
 * Fills the bar named `name` to `percent` (0–100), amber from 75 % and red from 95 %.
 * @param {string} name
 * @param {number | null} percent
 */
function showBar(name, percent) {
  const bar = statElements.get(name);
  if (!bar) return;
  const filled = /** @type {HTMLElement | null} */ (bar.firstElementChild);
  if (filled) filled.style.width = `${Math.min(100, percent ?? 0)}%`;
  bar.dataset.value = isNum(percent) ? String(percent) : '';
  bar.classList.toggle('warn', isNum(percent) && percent >= 75 && percent < 95);
  bar.classList.toggle('bad', isNum(percent) && percent >= 95);
}

/** Every tile, from a snapshot and the rates since the one before. @param {LiveStats} s @param {Rates} r */
export function renderTiles(s, r) {
  show('eventsInPerSec', fmtRate(r.inPerSec), r.inPerSec);
  show('eventsOutPerSec', fmtRate(r.outPerSec), r.outPerSec);
  show('pushed', fmtInt(s.pushed), s.pushed);
  show('written', fmtInt(s.written), s.written);
  show('latencyP50Ms', fmtMs(s.latencyP50Ms), s.latencyP50Ms);
  show('latencyP99Ms', fmtMs(s.latencyP99Ms), s.latencyP99Ms);

  const fill = fillPercent(s);
  show('queueFillPercent', fmtPercent(fill), fill);
  show('queueDepthBytes', fmtBytes(s.queueDepthBytes), s.queueDepthBytes);
  show('queueCapacityBytes', fmtBytes(s.queueCapacityBytes), s.queueCapacityBytes);
  showBar('queueFillBar', fill);
  show('queueDepthEvents', fmtBig(s.queueDepthEvents), s.queueDepthEvents);
  show('backpressureEvents', fmtInt(s.backpressureEvents), s.backpressureEvents);

  show(
    'producerBlockedSeconds',
    isNum(s.producerBlockedSeconds) ? s.producerBlockedSeconds.toFixed(2) : '–',
    s.producerBlockedSeconds,
  );
  const blockedPct = isNum(r.blockedShare) ? r.blockedShare * 100 : null;
  show('producerBlockedPercent', fmtPercent(blockedPct), blockedPct);

  const util = isNum(s.workerUtilization) ? s.workerUtilization * 100 : null;
  show('workerUtilizationPercent', fmtPercent(util), util);
  show('workers', s.workers === 1 ? '1 worker thread' : `${fmtInt(s.workers)} worker threads`, s.workers);

  show('retries', fmtBig(s.retries), s.retries);
  show('retriesPerSec', fmtRate(r.retriesPerSec), r.retriesPerSec);
  show('deadLettered', fmtBig(s.deadLettered), s.deadLettered);
  show('deadLetteredPerSec', fmtRate(r.deadLetteredPerSec), r.deadLetteredPerSec);
  show('dropped', fmtBig(s.dropped), s.dropped);
  show('droppedPerSec', fmtRate(r.droppedPerSec), r.droppedPerSec);
  tone('deadLettered', s.deadLettered > 0 ? 'warn' : null);
  tone('dropped', s.dropped > 0 ? 'warn' : null);
  tone('retries', s.retries > 0 ? 'warn' : null);

  show('ready', s.ready ? 'ready' : 'not ready', s.ready ? 1 : 0);
  tone('ready', s.ready ? 'ok' : 'warn');
  statElement('ready')?.setAttribute('title', (s.notReadyReasons ?? []).join('\n'));
  renderSource(s.source);
  renderRoutes(s.routes, r.routesPerSec);
  renderStages(r.stagesMs);
  renderDisk(s.disk, r.disk);
  document.title = isNum(r.outPerSec) ? `Sluice — ${fmtRate(r.outPerSec)} events/s` : 'Sluice — live';
}

/**
 * A broker source's standing with its broker (lag, unacknowledged, held here): shown only while
 * the server reports one.
 * @param {import('../../sources/source.js').SourceHealth | undefined} h
 */
function renderSource(h) {
  const tile = statElement('sourceTile');
  if (!tile) return;
  tile.hidden = !h;
  if (!h) return;
  show('sourceKind', `(${h.source})`, null);
  show('sourceLag', h.waiting === undefined ? '–' : fmtBig(h.waiting), h.waiting);
  show('sourceUnacked', h.unacked === undefined ? '–' : fmtInt(h.unacked), h.unacked);
  show('sourceHeld', fmtInt(h.held), h.held);
  tile.title = h.error ? `the broker could not be asked: ${h.error}` : '';
}

/**
 * Each route's writes per second, and which are failing: shown only for a pipeline with several
 * routes.
 * @param {import('../live-stats.js').RouteStats[] | undefined} routes
 * @param {Record<string, number | undefined>} perSec
 */
function renderRoutes(routes, perSec) {
  const tile = statElement('routesTile');
  const list = statElement('routes');
  if (!tile || !list) return;
  tile.hidden = !routes;
  if (!routes) return;
  list.replaceChildren(
    ...routes.map((route) => {
      const row = document.createElement('div');
      row.dataset.route = route.name;
      row.dataset.value = String(perSec?.[route.name] ?? '');
      const failing = route.failingSeconds > 0 ? ` · failing ${Math.round(route.failingSeconds)} s` : '';
      row.textContent = `${route.name}  ${fmtRate(perSec?.[route.name])} /s${failing}`;
      row.classList.toggle('bad', route.failingSeconds > 0);
      return row;
    }),
  );
}

/**
 * Where the last interval's events spent their time, mean ms each, as a stacked bar and figures.
 * @param {{ queueWait: number, decodeTransform: number, sinkWrite: number, releaseWait: number } | undefined} st
 */
function renderStages(st) {
  const bar = statElement('stagesBar');
  if (!bar || !st) return;
  const parts = /** @type {const} */ ([
    ['queueWait', st.queueWait],
    ['decodeTransform', st.decodeTransform],
    ['sinkWrite', st.sinkWrite],
    ['releaseWait', st.releaseWait],
  ]);
  const total = parts.reduce((n, [, ms]) => n + ms, 0);
  for (const [name, ms] of parts) {
    show(`stage-${name}`, fmtMs(ms), ms);
    const segment = /** @type {HTMLElement | null} */ (bar.querySelector(`[data-part="${name}"]`));
    if (segment) segment.style.width = `${total > 0 ? (100 * ms) / total : 0}%`;
  }
}

/**
 * The disk queue's log: its backlog beyond the ring against maxDiskBytes, the log's size, its
 * fsyncs and how long one took, and what was replayed at start. Shown only with a disk queue.
 * @param {import('../live-stats.js').DiskQueueLiveStats | undefined} d
 * @param {import('./live-rates.js').DiskRates | undefined} r
 */
function renderDisk(d, r) {
  const tile = statElement('diskTile');
  if (!tile) return;
  tile.hidden = !d;
  if (!d) return;
  const backlog = d.maxDiskBytes > 0 ? (100 * d.backlogBytes) / d.maxDiskBytes : null;
  show('diskBacklogEvents', fmtBig(d.backlogEvents), d.backlogEvents);
  showBar('diskBacklogBar', backlog);
  show('diskBacklogPercent', fmtPercent(backlog), backlog);
  show('diskBacklogBytes', fmtBytes(d.backlogBytes), d.backlogBytes);
  show('diskMaxBytes', fmtBytes(d.maxDiskBytes), d.maxDiskBytes);
  show('diskBytes', fmtBytes(d.bytes), d.bytes);
  show('diskEvents', fmtBig(d.events), d.events);
  show('diskFsync', d.fsync, null);
  show('diskFsyncsPerSec', fmtRate(r?.fsyncsPerSec), r?.fsyncsPerSec);
  show('diskFsyncMs', fmtMs(r?.fsyncMs), r?.fsyncMs);
  statElement('diskFsyncMs')?.setAttribute(
    'title',
    r?.fsyncMsRecent ? 'mean of the fsyncs in the last interval' : 'mean of every fsync since start',
  );
  show('diskReplayed', fmtInt(d.replayed), d.replayed);
}
