/** GitHub-flavoured Markdown tables, padded so the source reads as a table in a terminal too. */

export interface Column {
  title: string;
  align: 'left' | 'right';
}

/** Escapes data for a Markdown table cell or heading: no HTML, no emphasis, no column breaks. */
export function escapeMarkdown(value: string): string {
  return value
    .replace(/[\r\n]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|#~!]/g, (ch) => `\\${ch}`);
}

/** `cells` are Markdown already (escape data with `escapeMarkdown`). */
export function markdownTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(3, c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const w = widths[i] ?? 3;
        return c.align === 'right' ? cell.padStart(w) : cell.padEnd(w);
      })
      .join(' | ')} |`;
  const rule = `| ${columns
    .map((c, i) => {
      const w = widths[i] ?? 3;
      return c.align === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w);
    })
    .join(' | ')} |`;
  return [line(columns.map((c) => c.title)), rule, ...rows.map(line)].join('\n');
}
