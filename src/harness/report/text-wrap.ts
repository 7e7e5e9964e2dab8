import { textWidth } from './svg.js';

/** Break opportunities in system names: after a hyphen, underscore, slash or dot, or at a space. */
const PIECES = /[^\s\-_/.]*[-_/.]+|[^\s\-_/.]+|\s+/g;

/**
 * Splits a label into lines no wider than `maxWidth` where it can, so a long category name takes
 * two short lines instead of widening every group. A piece wider than `maxWidth` gets a line alone.
 */
export function wrapLabel(label: string, maxWidth: number, fontSize: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const piece of label.match(PIECES) ?? [label]) {
    const candidate = line + piece;
    if (line.trim() !== '' && textWidth(candidate.trimEnd(), fontSize) > maxWidth) {
      lines.push(line.trimEnd());
      line = piece.trimStart();
    } else {
      line = candidate;
    }
  }
  if (line.trim() !== '' || lines.length === 0) lines.push(line.trimEnd());
  return lines;
}
