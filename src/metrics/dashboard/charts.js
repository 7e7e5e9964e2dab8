// @ts-check
/** The dashboard's uPlot charts of the last two minutes. */
import { fmtCompact, fmtInt, fmtMs, fmtPercent, fmtRate, isNum } from './format.js';
import { show, statElement, tone } from './tiles.js';

/** @typedef {import('uplot')} UPlot */
/** @typedef {import('uplot').Options} PlotOptions */
/** @typedef {import('uplot').Axis} Axis */
/** @typedef {import('uplot').Series} Series */
/** @typedef {import('uplot').Scales} Scales */

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

/** @typedef {'inPerSec' | 'outPerSec' | 'p50' | 'p99' | 'fill' | 'depth' | 'util' | 'blocked'} Column */
/** One point of every column; a column left out (or null) is a gap in its line. */
/** @typedef {Partial<Record<Column, number | null | undefined>>} Point */

/** The charted window: seconds since the epoch, and one column per line. */
const data = {
  /** @type {number[]} */ t: [],
  /** @type {Record<Column, (number | null)[]>} */
  columns: { inPerSec: [], outPerSec: [], p50: [], p99: [], fill: [], depth: [], util: [], blocked: [] },
};
const COLUMNS = /** @type {Column[]} */ (Object.keys(data.columns));

/** Appends a point at `tS` and drops what falls out of the window. @param {number} tS @param {Point} point */
export function addPoint(tS, point) {
  data.t.push(tS);
  for (const key of COLUMNS) data.columns[key].push(point[key] ?? null);
  while (data.t.length > 0 && /** @type {number} */ (data.t[0]) < tS - WINDOW_S) {
    data.t.shift();
    for (const key of COLUMNS) data.columns[key].shift();
  }
}

/** Breaks every line just after the last point, `gapS` later: no line drawn across an outage. @param {number} gapS */
export function breakLines(gapS) {
  const last = data.t[data.t.length - 1];
  if (last === undefined) return;
  addPoint(last + gapS, {});
  redrawCharts();
}

/**
 * @param {string} label
 * @param {(v: number) => string} format
 * @param {import('uplot').Axis.Side} side
 * @param {string} [scale]
 * @returns {Axis}
 */
function yAxis(label, format, side = 3, scale = undefined) {
  /** @type {Axis} */
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

/** @type {Axis} */
const timeAxis = {
  label: 'time (local)',
  stroke: COLORS.axis,
  grid: { stroke: COLORS.grid, width: 1 },
  ticks: { stroke: COLORS.grid, width: 1 },
  labelSize: 22,
};

/**
 * @param {string} label
 * @param {string} stroke
 * @param {(v: number) => string} format
 * @param {string} [scale]
 * @returns {Series}
 */
function line(label, stroke, format, scale) {
  /** @type {Series} */
  const series = { label, stroke, width: 2, value: (_u, v) => (isNum(v) ? format(v) : '–') };
  if (scale) series.scale = scale;
  return series;
}

/** @typedef {import('uplot').Range.Function} RangeFunction */

/** From zero up, with headroom; an idle chart still shows a sensible axis. @param {number} floor @returns {RangeFunction} */
const fromZero = (floor) => (_u, _min, max) => [0, isNum(max) && max > 0 ? max * 1.1 : floor];
/** @type {RangeFunction} */
const percentRange = () => [0, 100];
/** At least 30 s wide, so the first seconds do not stretch into sub-second ticks. @type {RangeFunction} */
const timeRange = (_u, min, max) => (isNum(min) && isNum(max) ? [Math.min(min, max - 30), max] : [min, max]);

/** @typedef {{ name: string, scales: Scales, series: Series[], axes: Axis[], columns: Column[] }} Chart */

/** @type {Chart[]} */
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

/** @type {{ plot: UPlot, chart: Chart, target: HTMLElement }[]} */
const plots = [];

/** @param {HTMLElement} el */
function plotWidth(el) {
  return Math.max(280, Math.floor(el.clientWidth));
}

/** The chart's data in uPlot's shape: the times, then each of its columns. @param {Chart} chart */
function plotData(chart) {
  return /** @type {import('uplot').AlignedData} */ ([data.t, ...chart.columns.map((c) => data.columns[c])]);
}

/** Draws every chart (uPlot is loaded by its own script tag); returns them by figure name. */
export function createCharts() {
  const UPlot = /** @type {{ uPlot?: typeof import('uplot') }} */ (globalThis).uPlot;
  if (typeof UPlot !== 'function') {
    show('connection', 'uPlot missing', null);
    tone('connection', 'bad');
    return {};
  }
  for (const chart of CHARTS) {
    const figure = statElement(chart.name);
    const target = /** @type {HTMLElement | null | undefined} */ (figure?.querySelector('.plot'));
    if (!target) continue;
    /** @type {PlotOptions} */
    const options = {
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
    };
    plots.push({ plot: new UPlot(options, plotData(chart), target), chart, target });
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
  return Object.fromEntries(plots.map(({ plot, chart }) => [chart.name, plot]));
}

export function redrawCharts() {
  for (const { plot, chart } of plots) {
    plot.setData(plotData(chart));
    // Unless the pointer is on the chart, the legend shows the latest figures.
    if (!((plot.cursor.left ?? -1) >= 0)) plot.setLegend({ idx: data.t.length - 1 });
  }
}
