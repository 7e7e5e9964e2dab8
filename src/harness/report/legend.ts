import { type MarkerShape, marker } from './marker.js';
import { el, text, textWidth } from './svg.js';

export interface LegendItem {
  label: string;
  color: string;
  /** A filled box for bars; a line through a marker for line series. */
  swatch: 'box' | { marker: MarkerShape };
}

const FONT_SIZE = 12;
const ROW_HEIGHT = 20;
const SWATCH_WIDTH = 22;
const ITEM_GAP = 18;

function itemWidth(item: LegendItem): number {
  return SWATCH_WIDTH + 6 + textWidth(item.label, FONT_SIZE);
}

/** Legend items in rows from (x, top), wrapping before `maxWidth`; returns the height used. */
export function legend(items: readonly LegendItem[], x: number, top: number, maxWidth: number) {
  const markup: string[] = [];
  let cx = x;
  let row = 0;
  for (const item of items) {
    const w = itemWidth(item);
    if (cx > x && cx + w > x + maxWidth) {
      row++;
      cx = x;
    }
    const mid = top + row * ROW_HEIGHT + ROW_HEIGHT / 2;
    const swatch =
      item.swatch === 'box'
        ? el('rect', { x: cx + 4, y: mid - 7, width: 14, height: 14, rx: 2, fill: item.color })
        : el('line', {
            x1: cx,
            y1: mid,
            x2: cx + SWATCH_WIDTH,
            y2: mid,
            stroke: item.color,
            'stroke-width': 2.5,
          }) + marker(item.swatch.marker, cx + SWATCH_WIDTH / 2, mid, item.color);
    markup.push(
      el('g', { class: 'legend-item' }, [
        swatch,
        text({ x: cx + SWATCH_WIDTH + 6, y: mid + 4, 'font-size': FONT_SIZE }, item.label),
      ]),
    );
    cx += w + ITEM_GAP;
  }
  const height = items.length === 0 ? 0 : (row + 1) * ROW_HEIGHT;
  return { markup: items.length === 0 ? [] : [el('g', { class: 'legend' }, markup)], height };
}
