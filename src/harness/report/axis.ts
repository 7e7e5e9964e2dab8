import type { Scale } from './scale.js';
import { coord, el, GRID, INK, MINOR_GRID, MUTED_INK, text, textWidth } from './svg.js';

/** The rectangle data is drawn in, px from the top-left of the document. */
export interface PlotArea {
  left: number;
  top: number;
  width: number;
  height: number;
}

export const TICK_FONT_SIZE = 12;
export const AXIS_TITLE_FONT_SIZE = 13;
/** Room left of the tick labels for the rotated y-axis title. */
export const Y_TITLE_ROOM = 26;
const TICK_LENGTH = 5;

/** Widest y tick label, px: the left margin depends on it. */
export function yTickLabelWidth(scale: Scale, format: (v: number) => string): number {
  return Math.max(0, ...scale.ticks.map((t) => textWidth(format(t), TICK_FONT_SIZE)));
}

function yOf(scale: Scale, area: PlotArea, v: number): number {
  return area.top + area.height * (1 - scale.position(v));
}

/** Horizontal gridlines, tick labels and the rotated title of a y axis. */
export function yAxis(scale: Scale, area: PlotArea, title: string, format: (v: number) => string): string[] {
  const right = area.left + area.width;
  const out: string[] = [];
  for (const v of scale.minorTicks) {
    const y = coord(yOf(scale, area, v));
    out.push(el('line', { x1: area.left, y1: y, x2: right, y2: y, stroke: MINOR_GRID, class: 'minor-grid' }));
  }
  for (const v of scale.ticks) {
    const y = yOf(scale, area, v);
    out.push(
      el('g', { class: 'tick y-tick', 'data-value': String(v) }, [
        el('line', { x1: area.left, y1: y, x2: right, y2: y, stroke: GRID }),
        el('line', { x1: area.left - TICK_LENGTH, y1: y, x2: area.left, y2: y, stroke: INK }),
        text(
          {
            x: area.left - TICK_LENGTH - 3,
            y: y + 4,
            'text-anchor': 'end',
            'font-size': TICK_FONT_SIZE,
            fill: MUTED_INK,
          },
          format(v),
        ),
      ]),
    );
  }
  const labelsWidth = yTickLabelWidth(scale, format);
  const tx = area.left - TICK_LENGTH - 3 - labelsWidth - 10;
  const ty = area.top + area.height / 2;
  out.push(
    el('line', { x1: area.left, y1: area.top, x2: area.left, y2: area.top + area.height, stroke: INK }),
    text(
      {
        class: 'axis-title y-axis-title',
        x: tx,
        y: ty,
        transform: `rotate(-90 ${coord(tx)} ${coord(ty)})`,
        'text-anchor': 'middle',
        'font-size': AXIS_TITLE_FONT_SIZE,
        'font-weight': 600,
      },
      title,
    ),
  );
  return out;
}

/** Vertical gridlines, tick labels and the title of a numeric x axis. */
export function xAxis(scale: Scale, area: PlotArea, title: string, format: (v: number) => string): string[] {
  const bottom = area.top + area.height;
  const out: string[] = [];
  for (const v of scale.ticks) {
    const x = area.left + area.width * scale.position(v);
    out.push(
      el('g', { class: 'tick x-tick', 'data-value': String(v) }, [
        el('line', { x1: x, y1: area.top, x2: x, y2: bottom, stroke: GRID }),
        el('line', { x1: x, y1: bottom, x2: x, y2: bottom + TICK_LENGTH, stroke: INK }),
        text(
          {
            x,
            y: bottom + TICK_LENGTH + 14,
            'text-anchor': 'middle',
            'font-size': TICK_FONT_SIZE,
            fill: MUTED_INK,
          },
          format(v),
        ),
      ]),
    );
  }
  out.push(
    el('line', { x1: area.left, y1: bottom, x2: area.left + area.width, y2: bottom, stroke: INK }),
    xAxisTitle(area, title),
  );
  return out;
}

/** Below the tick labels (`shift` px further for labels of several lines), centred under the plot. */
export function xAxisTitle(area: PlotArea, title: string, shift = 0): string {
  return text(
    {
      class: 'axis-title x-axis-title',
      x: area.left + area.width / 2,
      y: area.top + area.height + 44 + shift,
      'text-anchor': 'middle',
      'font-size': AXIS_TITLE_FONT_SIZE,
      'font-weight': 600,
    },
    title,
  );
}

/** Space below the plot for x tick labels and the x-axis title. */
export const X_AXIS_ROOM = 56;
