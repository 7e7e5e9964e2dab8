import { type PlotArea, X_AXIS_ROOM, xAxisTitle, Y_TITLE_ROOM, yAxis, yTickLabelWidth } from './axis.js';
import { chartHeader, headerMinWidth, PAD } from './chart-header.js';
import type { LegendItem } from './legend.js';
import { linearScale, logScale, type Scale } from './scale.js';
import { el, escapeXml, INK, MUTED_INK, svgDocument, text, textWidth, tooltip } from './svg.js';
import { wrapLabel } from './text-wrap.js';

export interface BarSeries {
  name: string;
  /** One colour for the series, or one per category. */
  color: string | readonly string[];
  /** One value per category; `undefined` or non-finite draws no bar. */
  values: readonly (number | undefined)[];
}

export interface BarChartSpec {
  title: string;
  subtitle: string;
  /** What the chart shows, for screen readers. */
  description: string;
  categories: readonly string[];
  /** Bars of a category stand side by side in series order. */
  series: readonly BarSeries[];
  xTitle: string;
  /** Includes the unit, e.g. `events/s`. */
  yTitle: string;
  yScale: 'linear' | 'log';
  /** Unit appended to values in tooltips. */
  unit: string;
  formatValue(v: number): string;
  formatTick(v: number): string;
  /** Legend of series names; pointless for a single series whose categories are labelled. */
  showLegend: boolean;
}

const PLOT_HEIGHT = 300;
const VALUE_FONT_SIZE = 11;
const CATEGORY_FONT_SIZE = 12;
const BAR_GAP = 2;
const LINE_HEIGHT = 15;
/** Category labels wrap at this width at the least, even under narrow bars. */
const MIN_CATEGORY_LINE_WIDTH = 96;
const COMFORTABLE_WIDTH = 960;
/** Room above the tallest bar for its value label. */
const VALUE_LABEL_ROOM = 22;

function finite(v: number | undefined): v is number {
  return v !== undefined && Number.isFinite(v);
}

function colorOf(series: BarSeries, category: number): string {
  return typeof series.color === 'string' ? series.color : (series.color[category] ?? INK);
}

function scaleFor(spec: BarChartSpec): Scale {
  const values = spec.series.flatMap((s) => s.values.filter(finite));
  const max = Math.max(0, ...values);
  if (spec.yScale === 'linear') return linearScale(max);
  return logScale(Math.min(...values.filter((v) => v > 0), max), max);
}

/** A (grouped) bar chart with value labels, one group per category. */
export function barChart(spec: BarChartSpec): string {
  const scale = scaleFor(spec);
  const labels = spec.series.flatMap((s) => s.values.filter(finite).map((v) => spec.formatValue(v)));
  const minBar = spec.series.length === 1 ? 64 : 26;
  const barWidth = Math.max(minBar, ...labels.map((l) => textWidth(l, VALUE_FONT_SIZE) + 6));
  const barsWidth = spec.series.length * barWidth + (spec.series.length - 1) * BAR_GAP;
  const widest = (labels: readonly string[]) =>
    Math.max(0, ...labels.map((l) => textWidth(l, CATEGORY_FONT_SIZE)));
  const narrowestWrap = Math.max(barsWidth + 8, MIN_CATEGORY_LINE_WIDTH);
  const wrappedWidth = widest(
    spec.categories.flatMap((c) => wrapLabel(c, narrowestWrap, CATEGORY_FONT_SIZE)),
  );
  let groupWidth = Math.max(barsWidth + 28, widest(spec.categories) + 20);

  const left = PAD + Y_TITLE_ROOM + yTickLabelWidth(scale, spec.formatTick) + 10;
  const header = {
    title: spec.title,
    subtitle: spec.subtitle,
    legend: spec.showLegend
      ? spec.series.map((s): LegendItem => ({ label: s.name, color: colorOf(s, 0), swatch: 'box' }))
      : [],
  };
  const groups = Math.max(1, spec.categories.length);
  // Wrap category labels only when whole ones would make the chart wider than a screen.
  if (left + groups * groupWidth + PAD > COMFORTABLE_WIDTH)
    groupWidth = Math.max(barsWidth + 28, wrappedWidth + 20);
  const width = Math.max(left + groups * groupWidth + PAD, headerMinWidth(header), 480);
  groupWidth = (width - left - PAD) / groups;
  const categoryLines = spec.categories.map((c) => wrapLabel(c, groupWidth - 16, CATEGORY_FONT_SIZE));
  const extraLines = Math.max(0, ...categoryLines.map((l) => l.length - 1));

  const { markup: headerMarkup, bottom } = chartHeader(header, width);
  const area: PlotArea = {
    left,
    top: bottom + VALUE_LABEL_ROOM,
    width: groups * groupWidth,
    height: PLOT_HEIGHT,
  };
  const base = area.top + area.height;
  const yOf = (v: number) => area.top + area.height * (1 - scale.position(v));

  const body = [...headerMarkup, ...yAxis(scale, area, spec.yTitle, spec.formatTick)];
  spec.categories.forEach((category, c) => {
    const groupLeft = area.left + c * groupWidth + (groupWidth - barsWidth) / 2;
    const bars: string[] = [];
    spec.series.forEach((series, s) => {
      const v = series.values[c];
      if (!finite(v)) return;
      const x = groupLeft + s * (barWidth + BAR_GAP);
      const top = Math.min(yOf(v), base);
      const label = spec.formatValue(v);
      bars.push(
        el(
          'rect',
          {
            class: 'bar',
            'data-series': series.name,
            'data-value': String(v),
            x,
            y: top,
            width: barWidth,
            height: base - top,
            fill: colorOf(series, c),
          },
          [tooltip(`${category} · ${series.name}: ${label} ${spec.unit}`)],
        ),
        text(
          {
            class: 'bar-label',
            x: x + barWidth / 2,
            y: top - 5,
            'text-anchor': 'middle',
            'font-size': VALUE_FONT_SIZE,
          },
          label,
        ),
      );
    });
    body.push(
      el('g', { class: 'bar-group', 'data-category': category }, [
        ...bars,
        el(
          'text',
          { class: 'category-label', y: base + 19, 'text-anchor': 'middle', 'font-size': CATEGORY_FONT_SIZE },
          [
            tooltip(category),
            ...(categoryLines[c] ?? [category]).map((line, i) =>
              el('tspan', { x: area.left + (c + 0.5) * groupWidth, dy: i === 0 ? 0 : LINE_HEIGHT }, [
                escapeXml(line),
              ]),
            ),
          ],
        ),
      ]),
    );
  });
  if (spec.categories.length === 0) {
    body.push(
      text(
        {
          x: area.left + area.width / 2,
          y: area.top + area.height / 2,
          'text-anchor': 'middle',
          fill: MUTED_INK,
        },
        'no results',
      ),
    );
  }
  body.push(el('line', { x1: area.left, y1: base, x2: area.left + area.width, y2: base, stroke: INK }));
  body.push(xAxisTitle(area, spec.xTitle, extraLines * LINE_HEIGHT));

  return svgDocument({
    width,
    height: base + X_AXIS_ROOM + extraLines * LINE_HEIGHT + PAD,
    title: spec.title,
    description: spec.description,
    body,
  });
}
