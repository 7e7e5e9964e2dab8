/**
 * The live dashboard: polls /api/stats (a LiveStats snapshot of cumulative counters and gauges),
 * derives rates from successive snapshots, and draws tiles and uPlot charts of the last two
 * minutes. Plain browser JavaScript served as-is — no build step, nothing fetched from elsewhere.
 */
const POLL_MS = 500;
const RETRY_MS = 1000;
const TIMEOUT_MS = 2000;
const WINDOW_S = 120;
const CHART_HEIGHT = 220;

const COLORS = {
  in: '#4ea1ff',
  out: '#3fcf8e',
  p50: '#c3a6ff',
  p99: '#ff8c5a',
  fill: '#f0b429',
  depth: '#4ea1ff',
  util: '#3fcf8e',
  blocked: '#ff6b6b',
  axis: '#8b98a8',
  grid: '#263040',
};

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

const intFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

function fmtInt(v) {
  return isNum(v) ? intFormat.format(v) : '–';
}

/** A big tile figure: exact below a million, then 1.23M, so it never overflows its tile. */
function fmtBig(v) {
  if (!isNum(v)) return '–';
  return Math.abs(v) < 1e6 ? intFormat.format(v) : fmtCompact(v);
}

/** Rates: one decimal below 10/s so a trickle does not read as zero. */
function fmtRate(v) {
  if (!isNum(v)) return '–';
  return Math.abs(v) < 10 ? oneDecimal.format(v) : fmtBig(v);
}

function fmtMs(v) {
  if (!isNum(v)) return '–';
  if (v < 10) return v.toFixed(2);
  if (v < 100) return v.toFixed(1);
  return intFormat.format(v);
}

function fmtCompact(v) {
  if (!isNum(v)) return '';
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

function fmtBytes(v) {
  if (!isNum(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let n = v;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

function fmtPercent(v) {
  if (!isNum(v)) return '–';
  return v < 10 ? v.toFixed(1) : intFormat.format(v);
}

// ---- tiles ----

const statElements = new Map();
for (const el of document.querySelectorAll('[data-stat]')) statElements.set(el.dataset.stat, el);

/** Shows `text` in the element named `name`; `raw` (a number) goes to data-value for scripts and tests. */
function show(name, text, raw) {
  const el = statElements.get(name);
  if (!el) return;
  if (el.textContent !== text) el.textContent = text;
  el.dataset.value = isNum(raw) ? String(raw) : '';
}

function tone(name, cls) {
  const el = statElements.get(name);
  if (!el) return;
  el.classList.remove('ok', 'warn', 'bad', 'muted');
  if (cls) el.classList.add(cls);
}

/** Per-second change of a cumulative counter between two snapshots; null across a counter reset. */
function rate(prev, cur, key, dtS) {
  if (!prev || !isNum(prev[key]) || !isNum(cur[key]) || dtS <= 0) return null;
  const delta = cur[key] - prev[key];
  return delta < 0 ? null : delta / dtS;
}

function renderTiles(s, r) {
  show('eventsInPerSec', fmtRate(r.inPerSec), r.inPerSec);
  show('eventsOutPerSec', fmtRate(r.outPerSec), r.outPerSec);
  show('pushed', fmtInt(s.pushed), s.pushed);
  show('written', fmtInt(s.written), s.written);
  show('latencyP50Ms', fmtMs(s.latencyP50Ms), s.latencyP50Ms);
  show('latencyP99Ms', fmtMs(s.latencyP99Ms), s.latencyP99Ms);

  const fill = s.queueCapacityBytes > 0 ? (100 * s.queueDepthBytes) / s.queueCapacityBytes : null;
  show('queueFillPercent', fmtPercent(fill), fill);
  show('queueDepthBytes', fmtBytes(s.queueDepthBytes), s.queueDepthBytes);
  show('queueCapacityBytes', fmtBytes(s.queueCapacityBytes), s.queueCapacityBytes);
  const bar = statElements.get('queueFillBar');
  if (bar) {
    bar.firstElementChild.style.width = `${Math.min(100, fill ?? 0)}%`;
    bar.dataset.value = isNum(fill) ? String(fill) : '';
    bar.classList.toggle('warn', isNum(fill) && fill >= 75 && fill < 95);
    bar.classList.toggle('bad', isNum(fill) && fill >= 95);
  }
  show('queueDepthEvents', fmtBig(s.queueDepthEvents), s.queueDepthEvents);
  show('backpressureEvents', fmtInt(s.backpressureEvents), s.backpressureEvents);

  show(
    'producerBlockedSeconds',
    isNum(s.producerBlockedSeconds) ? s.producerBlockedSeconds.toFixed(2) : '–',
    s.producerBlockedSeconds,
  );
  const blockedPct = isNum(r.blockedPerSec) ? Math.min(100, r.blockedPerSec * 100) : null;
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
  document.title = isNum(r.outPerSec) ? `Sluice — ${fmtRate(r.outPerSec)} events/s` : 'Sluice — live';
}

// ---- charts ----

const data = {
  t: [],
  inPerSec: [],
  outPerSec: [],
  p50: [],
  p99: [],
  fill: [],
  depth: [],
  util: [],
  blocked: [],
};

function addPoint(tS, point) {
  for (const key of Object.keys(data)) data[key].push(key === 't' ? tS : (point[key] ?? null));
  while (data.t.length > 0 && data.t[0] < tS - WINDOW_S) {
    for (const key of Object.keys(data)) data[key].shift();
  }
}

function yAxis(label, format, side = 3, scale = undefined) {
  const axis = {
    label,
    side,
    stroke: COLORS.axis,
    grid: { stroke: COLORS.grid, width: 1, show: side === 3 },
    ticks: { stroke: COLORS.grid, width: 1 },
    size: 64,
    labelSize: 22,
    values: (_u, splits) => splits.map(format),
  };
  if (scale) axis.scale = scale;
  return axis;
}

const timeAxis = {
  label: 'time (local)',
  stroke: COLORS.axis,
  grid: { stroke: COLORS.grid, width: 1 },
  ticks: { stroke: COLORS.grid, width: 1 },
  labelSize: 22,
};

function line(label, stroke, format, scale) {
  const series = { label, stroke, width: 2, value: (_u, v) => (isNum(v) ? format(v) : '–') };
  if (scale) series.scale = scale;
  return series;
}

/** From zero up, with headroom; an idle chart still shows a sensible axis. */
const fromZero = (floor) => (_u, _min, max) => [0, isNum(max) && max > 0 ? max * 1.1 : floor];
const percentRange = () => [0, 100];
/** At least 30 s wide, so the first seconds do not stretch into sub-second ticks. */
const timeRange = (_u, min, max) => (isNum(min) && isNum(max) ? [Math.min(min, max - 30), max] : [min, max]);

const CHARTS = [
  {
    name: 'throughputChart',
    scales: { x: { time: true, range: timeRange }, y: { range: fromZero(10) } },
    series: [
      line('in (pushed)', COLORS.in, (v) => `${fmtRate(v)} /s`),
      line('out (written)', COLORS.out, (v) => `${fmtRate(v)} /s`),
    ],
    axes: [timeAxis, yAxis('events/s', fmtCompact)],
    columns: ['inPerSec', 'outPerSec'],
  },
  {
    name: 'latencyChart',
    scales: { x: { time: true, range: timeRange }, y: { range: fromZero(1) } },
    series: [
      line('p50', COLORS.p50, (v) => `${fmtMs(v)} ms`),
      line('p99', COLORS.p99, (v) => `${fmtMs(v)} ms`),
    ],
    axes: [timeAxis, yAxis('latency (ms)', fmtCompact)],
    columns: ['p50', 'p99'],
  },
  {
    name: 'queueChart',
    scales: {
      x: { time: true, range: timeRange },
      '%': { range: percentRange },
      events: { range: fromZero(10) },
    },
    series: [
      line('fill (bytes)', COLORS.fill, (v) => `${fmtPercent(v)} %`, '%'),
      line('depth', COLORS.depth, (v) => `${fmtInt(v)} events`, 'events'),
    ],
    axes: [
      timeAxis,
      yAxis('fill (% of capacity)', (v) => `${v}%`, 3, '%'),
      yAxis('depth (events)', fmtCompact, 1, 'events'),
    ],
    columns: ['fill', 'depth'],
  },
  {
    name: 'workChart',
    scales: { x: { time: true, range: timeRange }, '%': { range: percentRange } },
    series: [
      line('workers busy', COLORS.util, (v) => `${fmtPercent(v)} %`, '%'),
      line('producers blocked', COLORS.blocked, (v) => `${fmtPercent(v)} %`, '%'),
    ],
    axes: [timeAxis, yAxis('% of time', (v) => `${v}%`, 3, '%')],
    columns: ['util', 'blocked'],
  },
];

const plots = [];

function plotWidth(el) {
  return Math.max(280, Math.floor(el.clientWidth));
}

function createCharts() {
  const UPlot = globalThis.uPlot;
  if (typeof UPlot !== 'function') {
    show('connection', 'uPlot missing', null);
    tone('connection', 'bad');
    return;
  }
  for (const chart of CHARTS) {
    const figure = statElements.get(chart.name);
    if (!figure) continue;
    const target = figure.querySelector('.plot');
    const plot = new UPlot(
      {
        width: plotWidth(target),
        height: CHART_HEIGHT,
        scales: chart.scales,
        series: [
          { label: 'time', value: (_u, v) => (isNum(v) ? new Date(v * 1000).toLocaleTimeString() : '–') },
          ...chart.series,
        ],
        axes: chart.axes,
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      [data.t, ...chart.columns.map((c) => data[c])],
      target,
    );
    plots.push({ plot, chart, target });
  }
  let pending = false;
  window.addEventListener('resize', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      for (const { plot, target } of plots) plot.setSize({ width: plotWidth(target), height: CHART_HEIGHT });
    });
  });
}

function redrawCharts() {
  for (const { plot, chart } of plots) {
    plot.setData([data.t, ...chart.columns.map((c) => data[c])]);
    // Unless the pointer is on the chart, the legend shows the latest figures.
    if (!(plot.cursor.left >= 0)) plot.setLegend({ idx: data.t.length - 1 });
  }
}

// ---- polling ----

let prev = null;
let lastOkAt = null;
let connected = null;

function onStats(s) {
  const dtS = prev ? (s.t - prev.t) / 1000 : 0;
  const r = {
    inPerSec: rate(prev, s, 'pushed', dtS),
    outPerSec: rate(prev, s, 'written', dtS),
    retriesPerSec: rate(prev, s, 'retries', dtS),
    deadLetteredPerSec: rate(prev, s, 'deadLettered', dtS),
    droppedPerSec: rate(prev, s, 'dropped', dtS),
    blockedPerSec: rate(prev, s, 'producerBlockedSeconds', dtS),
  };
  renderTiles(s, r);
  addPoint(s.t / 1000, {
    inPerSec: r.inPerSec,
    outPerSec: r.outPerSec,
    p50: s.latencyP50Ms,
    p99: s.latencyP99Ms,
    fill: s.queueCapacityBytes > 0 ? (100 * s.queueDepthBytes) / s.queueCapacityBytes : null,
    depth: s.queueDepthEvents,
    util: isNum(s.workerUtilization) ? s.workerUtilization * 100 : null,
    blocked: isNum(r.blockedPerSec) ? Math.min(100, r.blockedPerSec * 100) : null,
  });
  redrawCharts();
  prev = s;
  lastOkAt = Date.now();
  show('updated', `updated ${new Date(s.t).toLocaleTimeString()}`, s.t);
}

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
    if (data.t.length > 0) {
      addPoint(data.t[data.t.length - 1] + POLL_MS / 1000, {});
      redrawCharts();
    }
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
  let stats = null;
  try {
    const response = await fetch('/api/stats', { cache: 'no-store', signal: controller.signal });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    stats = await response.json();
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

createCharts();
// For the console and for tests: the uPlot instances, by figure name.
globalThis.sluiceCharts = Object.fromEntries(plots.map(({ plot, chart }) => [chart.name, plot]));
poll();
