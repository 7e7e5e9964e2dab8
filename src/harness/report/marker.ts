import { el } from './svg.js';

/** Shapes cycle with colour, so series stay apart in greyscale print too. */
export const MARKER_SHAPES = ['circle', 'square', 'triangle', 'diamond'] as const;
export type MarkerShape = (typeof MARKER_SHAPES)[number];

/** A data-point marker centred on (x, y), `r` px from centre to edge, outlined in white. */
export function marker(
  shape: MarkerShape,
  x: number,
  y: number,
  color: string,
  r = 4.5,
  children: string[] = [],
): string {
  const common = { fill: color, stroke: '#ffffff', 'stroke-width': 1.2, class: 'marker' };
  switch (shape) {
    case 'circle':
      return el('circle', { ...common, cx: x, cy: y, r }, children);
    case 'square':
      return el(
        'rect',
        { ...common, x: x - r * 0.9, y: y - r * 0.9, width: r * 1.8, height: r * 1.8 },
        children,
      );
    case 'triangle': {
      const h = r * 1.15;
      return el(
        'path',
        { ...common, d: `M${x} ${y - h}L${x + h} ${y + h * 0.8}L${x - h} ${y + h * 0.8}Z` },
        children,
      );
    }
    case 'diamond': {
      const h = r * 1.25;
      return el(
        'path',
        { ...common, d: `M${x} ${y - h}L${x + h} ${y}L${x} ${y + h}L${x - h} ${y}Z` },
        children,
      );
    }
  }
}
