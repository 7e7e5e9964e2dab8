/**
 * A tiny, strict XML reader for the chart tests: it throws on anything a browser's XML parser would
 * reject that our SVGs could plausibly contain (unbalanced or crossed tags, unquoted or duplicate
 * attributes, raw `<` or a bare `&` in text or attributes, content after the root), and returns the
 * element tree so tests query elements instead of matching text.
 */

export interface XmlElement {
  name: string;
  attrs: Map<string, string>;
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function isNameChar(ch: string): boolean {
  return (
    (ch >= 'a' && ch <= 'z') ||
    (ch >= 'A' && ch <= 'Z') ||
    (ch >= '0' && ch <= '9') ||
    ch === '-' ||
    ch === '_' ||
    ch === ':' ||
    ch === '.'
  );
}

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r';
}

class Reader {
  #at = 0;
  constructor(readonly source: string) {}

  fail(message: string): never {
    throw new Error(`${message} at offset ${this.#at}: …${this.source.slice(this.#at, this.#at + 40)}`);
  }
  peek(n = 0): string | undefined {
    return this.source[this.#at + n];
  }
  startsWith(s: string): boolean {
    return this.source.startsWith(s, this.#at);
  }
  done(): boolean {
    return this.#at >= this.source.length;
  }
  advance(n: number): void {
    this.#at += n;
  }
  skipSpace(): void {
    while (isSpace(this.peek())) this.#at++;
  }
  skipPast(end: string): void {
    const at = this.source.indexOf(end, this.#at);
    if (at < 0) this.fail(`unterminated, expected ${end}`);
    this.#at = at + end.length;
  }
  expect(s: string): void {
    if (!this.startsWith(s)) this.fail(`expected ${s}`);
    this.#at += s.length;
  }
  name(): string {
    const start = this.#at;
    while (!this.done() && isNameChar(this.peek() ?? '')) this.#at++;
    if (this.#at === start) this.fail('expected a name');
    return this.source.slice(start, this.#at);
  }
  /** Reads up to `stop`, decoding entity references and rejecting raw `<` and bare `&`. */
  chars(stop: string): string {
    let out = '';
    while (!this.done() && this.peek() !== stop) {
      const ch = this.peek() ?? '';
      if (ch === '<') this.fail('raw < in character data');
      if (ch === '&') {
        const end = this.source.indexOf(';', this.#at);
        if (end < 0 || end - this.#at > 10) this.fail('bare &');
        const ref = this.source.slice(this.#at + 1, end);
        if (ref.startsWith('#x')) out += String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
        else if (ref.startsWith('#')) out += String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
        else if (ref in PREDEFINED) out += PREDEFINED[ref];
        else this.fail(`unknown entity &${ref};`);
        this.#at = end + 1;
      } else {
        out += ch;
        this.#at++;
      }
    }
    return out;
  }
}

function readElement(r: Reader): XmlElement {
  r.expect('<');
  const element: XmlElement = { name: r.name(), attrs: new Map(), children: [] };
  for (;;) {
    const spaced = isSpace(r.peek());
    r.skipSpace();
    if (r.startsWith('/>')) {
      r.advance(2);
      return element;
    }
    if (r.startsWith('>')) {
      r.advance(1);
      break;
    }
    if (!spaced) r.fail('attributes must be separated by space');
    const attr = r.name();
    if (element.attrs.has(attr)) r.fail(`duplicate attribute ${attr}`);
    r.expect('=');
    const quote = r.peek();
    if (quote !== '"' && quote !== "'") r.fail(`unquoted value of ${attr}`);
    r.advance(1);
    element.attrs.set(attr, r.chars(quote));
    r.expect(quote);
  }
  for (;;) {
    if (r.done()) r.fail(`unclosed <${element.name}>`);
    if (r.startsWith('</')) {
      r.advance(2);
      const closing = r.name();
      if (closing !== element.name) r.fail(`</${closing}> closes <${element.name}>`);
      r.skipSpace();
      r.expect('>');
      return element;
    }
    if (r.startsWith('<!--')) r.skipPast('-->');
    else if (r.startsWith('<![CDATA[')) r.fail('CDATA not expected');
    else if (r.startsWith('<')) element.children.push(readElement(r));
    else element.children.push(r.chars('<'));
  }
}

/** Parses a whole document: optional XML declaration and comments, exactly one root element. */
export function parseXml(source: string): XmlElement {
  const r = new Reader(source);
  if (r.startsWith('<?xml')) r.skipPast('?>');
  r.skipSpace();
  while (r.startsWith('<!--')) {
    r.skipPast('-->');
    r.skipSpace();
  }
  const root = readElement(r);
  r.skipSpace();
  if (!r.done()) r.fail('content after the root element');
  return root;
}

function isElement(node: XmlNode): node is XmlElement {
  return typeof node !== 'string';
}

/** Every element below `root` (and root itself) that satisfies `match`, in document order. */
export function findAll(root: XmlElement, match: (e: XmlElement) => boolean): XmlElement[] {
  const found: XmlElement[] = match(root) ? [root] : [];
  for (const child of root.children) if (isElement(child)) found.push(...findAll(child, match));
  return found;
}

/** Elements whose class list contains `cls`. */
export function byClass(root: XmlElement, cls: string): XmlElement[] {
  return findAll(root, (e) => (e.attrs.get('class') ?? '').split(' ').includes(cls));
}

/** The text a viewer sees: descendant character data, without tooltips (`<title>`), lines joined by a space. */
export function visibleText(e: XmlElement): string {
  const parts: string[] = [];
  for (const child of e.children) {
    if (!isElement(child)) parts.push(child);
    else if (child.name === 'tspan') parts.push(` ${visibleText(child)}`);
    else if (child.name !== 'title') parts.push(visibleText(child));
  }
  return parts.join('').trim();
}

export function attr(e: XmlElement, name: string): string {
  const value = e.attrs.get(name);
  if (value === undefined) throw new Error(`<${e.name}> has no ${name}`);
  return value;
}
