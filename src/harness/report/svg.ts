/**
 * Minimal SVG writing: escaping, element strings, and a text-width estimate for layout. Everything
 * that reaches the document from data goes through `escapeXml`, via `el`'s attributes or `text`.
 */

export const FONT_FAMILY = 'system-ui, -apple-system, Segoe UI, DejaVu Sans, Helvetica, Arial, sans-serif';
export const INK = '#222222';
export const MUTED_INK = '#555555';
export const GRID = '#e3e3e3';
export const MINOR_GRID = '#f1f1f1';

export type Attrs = Record<string, string | number | undefined>;

/** Characters XML 1.0 forbids even as references, and unpaired surrogates. */
const INVALID_XML_CHARS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters to remove.
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escapes text for XML content or a double-quoted attribute, dropping characters XML cannot hold. */
export function escapeXml(value: string): string {
  return value
    .replace(INVALID_XML_CHARS, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Coordinates to two decimals: enough for a screen, and keeps the file small. */
export function coord(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function attrs(a: Attrs): string {
  let out = '';
  for (const [name, value] of Object.entries(a)) {
    if (value === undefined) continue;
    out += ` ${name}="${typeof value === 'number' ? coord(value) : escapeXml(value)}"`;
  }
  return out;
}

/** An element whose children are markup already built by these helpers (never raw data). */
export function el(name: string, a: Attrs, children: readonly string[] = []): string {
  return children.length === 0
    ? `<${name}${attrs(a)}/>`
    : `<${name}${attrs(a)}>${children.join('')}</${name}>`;
}

/** A text element; `content` is data and is escaped. */
export function text(a: Attrs, content: string, tooltip?: string): string {
  const tip = tooltip === undefined ? '' : `<title>${escapeXml(tooltip)}</title>`;
  return `<text${attrs(a)}>${tip}${escapeXml(content)}</text>`;
}

/** A `<title>` child: browsers show it as a tooltip, screen readers read it. */
export function tooltip(content: string): string {
  return `<title>${escapeXml(content)}</title>`;
}

/**
 * Rough rendered width of `s` in a sans-serif font at `fontSize` px. Layout only needs it to keep
 * labels apart, so per-class averages do; it errs wide.
 */
export function textWidth(s: string, fontSize: number): number {
  let em = 0;
  for (const ch of s) {
    if ("il.,:;|!'`".includes(ch)) em += 0.3;
    else if (ch === ' ' || 'fjrt()[]'.includes(ch)) em += 0.4;
    else if ('mwMW@%'.includes(ch)) em += 0.92;
    else if (ch >= 'A' && ch <= 'Z') em += 0.72;
    else em += 0.6;
  }
  return em * fontSize;
}

export interface SvgDocument {
  width: number;
  height: number;
  /** Accessible name, also shown by browsers as the document title. */
  title: string;
  /** One or two sentences saying what the chart shows. */
  description: string;
  body: readonly string[];
}

/** A standalone SVG file: XML declaration, namespace, size and viewBox, on a white background. */
export function svgDocument(doc: SvgDocument): string {
  const w = Math.ceil(doc.width);
  const h = Math.ceil(doc.height);
  const root = attrs({
    xmlns: 'http://www.w3.org/2000/svg',
    width: w,
    height: h,
    viewBox: `0 0 ${w} ${h}`,
    role: 'img',
    'font-family': FONT_FAMILY,
    'font-size': 12,
    fill: INK,
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg${root}>`,
    `<title>${escapeXml(doc.title)}</title>`,
    `<desc>${escapeXml(doc.description)}</desc>`,
    el('rect', { width: w, height: h, fill: '#ffffff' }),
    ...doc.body,
    '</svg>',
    '',
  ].join('\n');
}
