// @ts-check
/** How the dashboard writes its figures: never wider than a tile, '–' for a figure it does not have. */

/**
 * @param {unknown} v
 * @returns {v is number}
 */
export const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

const intFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** @param {unknown} v */
export function fmtInt(v) {
  return isNum(v) ? intFormat.format(v) : '–';
}

/** A big tile figure: exact below a million, then 1.23M, so it never overflows its tile. @param {unknown} v */
export function fmtBig(v) {
  if (!isNum(v)) return '–';
  return Math.abs(v) < 1e6 ? intFormat.format(v) : fmtCompact(v);
}

/** Rates: one decimal below 10/s so a trickle does not read as zero. @param {unknown} v */
export function fmtRate(v) {
  if (!isNum(v)) return '–';
  return Math.abs(v) < 10 ? oneDecimal.format(v) : fmtBig(v);
}

/** @param {unknown} v */
export function fmtMs(v) {
  if (!isNum(v)) return '–';
  if (v < 10) return v.toFixed(2);
  if (v < 100) return v.toFixed(1);
  return intFormat.format(v);
}

/** @param {unknown} v */
export function fmtCompact(v) {
  if (!isNum(v)) return '';
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

/** @param {unknown} v */
export function fmtBytes(v) {
  if (!isNum(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let n = v;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

/** A percentage (0–100, not a share). @param {unknown} v */
export function fmtPercent(v) {
  if (!isNum(v)) return '–';
  return v < 10 ? v.toFixed(1) : intFormat.format(v);
}
