import { type LegendItem, legend } from './legend.js';
import { MUTED_INK, text, textWidth } from './svg.js';

export const PAD = 20;
const TITLE_FONT_SIZE = 17;
const SUBTITLE_FONT_SIZE = 12;

export interface HeaderSpec {
  title: string;
  /** Context line under the title: scenario and where it was measured. */
  subtitle: string;
  legend: readonly LegendItem[];
}

/** The narrowest document that shows the title and subtitle unclipped. */
export function headerMinWidth(spec: HeaderSpec): number {
  return (
    2 * PAD +
    Math.max(textWidth(spec.title, TITLE_FONT_SIZE) * 1.05, textWidth(spec.subtitle, SUBTITLE_FONT_SIZE))
  );
}

/** Title, subtitle and legend, left-aligned at the top; `bottom` is the first free y below them. */
export function chartHeader(spec: HeaderSpec, width: number): { markup: string[]; bottom: number } {
  const markup = [
    text(
      { class: 'chart-title', x: PAD, y: PAD + 14, 'font-size': TITLE_FONT_SIZE, 'font-weight': 700 },
      spec.title,
    ),
    text(
      { class: 'chart-subtitle', x: PAD, y: PAD + 34, 'font-size': SUBTITLE_FONT_SIZE, fill: MUTED_INK },
      spec.subtitle,
    ),
  ];
  const top = PAD + 46;
  const { markup: legendMarkup, height } = legend(spec.legend, PAD, top, width - 2 * PAD);
  markup.push(...legendMarkup);
  return { markup, bottom: top + height };
}
