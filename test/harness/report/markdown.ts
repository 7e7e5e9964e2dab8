/** Splits a Markdown table row into cells, honouring `\|` escapes inside a cell. */
function cells(row: string): string[] {
  const out: string[] = [];
  let cell = '';
  for (let i = 1; i < row.length - 1; i++) {
    const ch = row[i];
    if (ch === '\\' && i + 1 < row.length - 1) {
      cell += ch + row[i + 1];
      i++;
    } else if (ch === '|') {
      out.push(cell.trim());
      cell = '';
    } else {
      cell += ch;
    }
  }
  out.push(cell.trim());
  return out;
}

/** The lines of the `## heading` section, up to the next heading of level one or two. */
export function section(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && /^#{1,2} /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The first table of a section as header cells and body rows (the alignment rule dropped). */
export function table(markdown: string, heading: string): { header: string[]; rows: string[][] } {
  const rows = section(markdown, heading)
    .filter((l) => l.startsWith('|'))
    .map(cells);
  return { header: rows[0] ?? [], rows: rows.slice(2) };
}

/** The body rows of a table as objects keyed by header cell. */
export function records(markdown: string, heading: string): Record<string, string>[] {
  const { header, rows } = table(markdown, heading);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}
