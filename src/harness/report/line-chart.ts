import { type PlotArea, X_AXIS_ROOM, xAxis, Y_TITLE_ROOM, yAxis, yTickLabelWidth } from './axis.js';
import { chartHeader, headerMinWidth, PAD } from './chart-header.js';
import type { LegendItem } from './legend.js';
import { MARKER_SHAPES, marker } from './marker.js';
import { linearScale, logScale, type Scale } from './scale.js';
import { el, MUTED_INK, svgDocument, text, textWidth, tooltip } from './svg.js';

export interface LinePoint {
  x: number;
  y: number;
  /** Tooltip of the marker. */
  label: string;
}

export interface LineSeries {
  name: string;
  color: string;
  /** Joined in the order given. */
  points: readonly LinePoint[];
  /** Index of a point to ring, e.g. the knee of a latency curve. */
  highlight?: number;
  /** Caption of the ringed point, also shown in the legend entry. */
  highlightLabel?: string;
}

export interface LineChartSpec {
  title: string;
  subtitle: string;
  description: string;
  series: readonly LineSeries[];
  /** Includes the unit. */
  xTitle: string;
  /** Includes the unit and says if the scale is logarithmic. */
  yTitle: string;
  yScale: 'linear' | 'log';
  formatXTick(v: number): string;
  formatYTick(v: number): string;
}

const PLOT_WIDTH = 560;
const PLOT_HEIGHT = 320;

function finitePoint(p: LinePoint): boolean {
  return Number.isFinite(p.x) && Number.isFinite(p.y);
}

function yScaleFor(spec: LineChartSpec): Scale {
  const ys = spec.series.flatMap((s) => s.points.filter(finitePoint).map((p) => p.y));
  const max = Math.max(0, ...ys);
  const positive = ys.filter((y) => y > 0);
  // A log axis cannot show zero; with no positive value at all a linear one is the honest choice.
  if (spec.yScale === 'linear' || positive.length === 0) return linearScale(max);
  return logScale(Math.min(...positive), max);
}

/** Lines with a marker per point, a marker shape per series, and an optional ring per series. */
export function lineChart(spec: LineChartSpec): string {
  const xScale = linearScale(
    Math.max(0, ...spec.series.flatMap((s) => s.points.filter(finitePoint).map((p) => p.x))),
  );
  const yScale = yScaleFor(spec);
  const shapeOf = (i: number) => MARKER_SHAPES[i % MARKER_SHAPES.length] ?? 'circle';
  const header = {
    title: spec.title,
    subtitle: spec.subtitle,
    legend: spec.series.map(
      (s, i): LegendItem => ({
        label: s.highlightLabel === undefined ? s.name : `${s.name} — ${s.highlightLabel}`,
        color: s.color,
        swatch: { marker: shapeOf(i) },
      }),
    ),
  };
  const left = PAD + Y_TITLE_ROOM + yTickLabelWidth(yScale, spec.formatYTick) + 10;
  const lastXTick = xScale.ticks[xScale.ticks.length - 1] ?? 0;
  const right = PAD + textWidth(spec.formatXTick(lastXTick), 12) / 2;
  const width = Math.max(left + PLOT_WIDTH + right, headerMinWidth(header));
  const { markup: headerMarkup, bottom } = chartHeader(header, width);
  const area: PlotArea = { left, top: bottom + 16, width: width - left - right, height: PLOT_HEIGHT };
  const xOf = (v: number) => area.left + area.width * xScale.position(v);
  const yOf = (v: number) => area.top + area.height * (1 - yScale.position(v));

  const body = [
    ...headerMarkup,
    ...yAxis(yScale, area, spec.yTitle, spec.formatYTick),
    ...xAxis(xScale, area, spec.xTitle, spec.formatXTick),
  ];
  spec.series.forEach((series, i) => {
    const points = series.points.filter(finitePoint);
    const children: string[] = [];
    if (points.length > 1) {
      const d = points
        .map((p, j) => `${j === 0 ? 'M' : 'L'}${xOf(p.x).toFixed(2)} ${yOf(p.y).toFixed(2)}`)
        .join('');
      children.push(
        el('path', {
          class: 'line',
          d,
          fill: 'none',
          stroke: series.color,
          'stroke-width': 2.5,
          'stroke-linejoin': 'round',
        }),
      );
    }
    const ringed = series.highlight === undefined ? undefined : series.points[series.highlight];
    if (ringed !== undefined && finitePoint(ringed)) {
      children.push(
        el('circle', {
          class: 'highlight',
          cx: xOf(ringed.x),
          cy: yOf(ringed.y),
          r: 10,
          fill: 'none',
          stroke: series.color,
          'stroke-width': 2,
          'stroke-dasharray': '3 2',
        }),
      );
    }
    for (const p of points)
      children.push(marker(shapeOf(i), xOf(p.x), yOf(p.y), series.color, 5, [tooltip(p.label)]));
    body.push(el('g', { class: 'series', 'data-series': series.name }, children));
  });
  if (spec.series.every((s) => s.points.length === 0)) {
    body.push(
      text(
        {
          x: area.left + area.width / 2,
          y: area.top + area.height / 2,
          'text-anchor': 'middle',
          fill: MUTED_INK,
        },
        'no data',
      ),
    );
  }
  return svgDocument({
    width,
    height: area.top + area.height + X_AXIS_ROOM + PAD,
    title: spec.title,
    description: spec.description,
    body,
  });
}
