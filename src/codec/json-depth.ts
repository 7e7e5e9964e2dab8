/**
 * Whether JSON text nests arrays and objects more than `maxDepth` levels deep. Brackets inside
 * strings do not count. One pass, no allocation; text of at most `maxDepth` characters is not
 * scanned at all, since every level needs a bracket of its own.
 *
 * Why a limit: `JSON.parse` takes 20 000 nested arrays in 40 KB, but `JSON.stringify` — in a sink,
 * in the dead-letter sink, in a user's transform — overflows its stack on them; PostgreSQL refuses
 * such jsonb too. The limit turns the event into one dead letter (`too-deep`) where it is parsed.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  if (text.length <= maxDepth) return false;
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
