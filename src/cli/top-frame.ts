/**
 * What `sluice top` shows, as text: one screen of figures from two /api/stats snapshots, their
 * rates computed as the dashboard computes them (live-rates.ts). Pure formatting, no I/O: the
 * command draws these lines, the tests read them.
 */
import { boundBy } from '../metrics/dashboard/bound-by.js';
import { type DiskRates, ratesBetween } from '../metrics/dashboard/live-rates.js';
import type { DiskQueueLiveStats, LiveStats } from '../metrics/live-stats.js';

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

const count = (v: number | undefined): string =>
  v === undefined || !Number.isFinite(v) ? '–' : int.format(v);
const perSec = (v: number | undefined): string =>
  v === undefined ? '–' : Math.abs(v) < 10 ? v.toFixed(1) : int.format(v);
const ms = (v: number): string => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : int.format(v));
const percent = (share: number | undefined): string =>
  share === undefined || !Number.isFinite(share) ? '–' : `${(share * 100).toFixed(1)} %`;

function bytes(v: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let n = v;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** `[#####-----]`, `width` cells inside the brackets. */
export function textBar(share: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, share)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export interface FrameContext {
  url: string;
  intervalMs: number;
  /** Terminal width in columns. */
  columns: number;
  /** The last failure, shown under the figures while retrying. */
  error?: string | undefined;
  /** Show the "q or Ctrl-C to quit" line. */
  interactive: boolean;
}

/** One screen of figures, as lines (no trailing newline). */
export function renderFrame(
  cur: LiveStats | undefined,
  prev: LiveStats | undefined,
  ctx: FrameContext,
): string[] {
  const label = (s: string) => s.padEnd(11);
  const col = (s: string, width = 28) => s.padEnd(width);
  const status = ctx.error
    ? 'DISCONNECTED, retrying'
    : cur
      ? `live · ${cur.ready ? 'ready' : 'NOT READY'}`
      : 'connecting';
  const time = cur ? new Date(cur.takenAt).toLocaleTimeString('en-GB') : '';
  const lines = [`sluice top  ${ctx.url}  ${status}  ${time}`, ''];
  if (cur) {
    const r = ratesBetween(prev, cur);
    const fill = cur.queueCapacityBytes > 0 ? cur.queueDepthBytes / cur.queueCapacityBytes : 0;
    const barWidth = Math.max(10, Math.min(40, ctx.columns - 50));
    lines.push(
      `${label('THROUGHPUT')} ${col(`in  ${perSec(r.inPerSec)} events/s`)}out  ${perSec(r.outPerSec)} events/s`,
      `${label('')} ${col(`pushed  ${count(cur.pushed)}`)}written  ${count(cur.written)}`,
      `${label('LATENCY')} ${col(`p50  ${ms(cur.latencyP50Ms)} ms`)}p99  ${ms(cur.latencyP99Ms)} ms   (push → ack, recent)`,
      `${label('RING')} ${textBar(fill, barWidth)} ${(fill * 100).toFixed(1)} % full   ${bytes(cur.queueDepthBytes)} of ${bytes(cur.queueCapacityBytes)}`,
      `${label('')} ${col(`depth  ${count(cur.queueDepthEvents)} events`)}backpressure waits  ${count(cur.backpressureEvents)}`,
    );
    if (cur.disk) lines.push(...diskLines(cur.disk, r.disk, barWidth));
    lines.push(
      `${label('PRODUCERS')} ${col(`blocked  ${cur.producerBlockedSeconds.toFixed(2)} s`)}now blocked  ${percent(r.blockedShare)} of the time`,
      `${label('WORKERS')} ${col(`${count(cur.workers)} worker thread${cur.workers === 1 ? '' : 's'}`)}utilization  ${percent(cur.workerUtilization)}`,
      `${label('DELIVERY')} ${col(`retries  ${count(cur.retries)} (${perSec(r.retriesPerSec)}/s)`)}dead letters  ${count(cur.deadLettered)} (${perSec(r.deadLetteredPerSec)}/s)`,
      `${label('')} ${col(`dropped  ${count(cur.dropped)} (${perSec(r.droppedPerSec)}/s)`)}`.trimEnd(),
    );
    if (cur.source) {
      const h = cur.source;
      const known = (n: number | undefined) => (n === undefined ? '–' : count(n));
      lines.push(
        `${label('SOURCE')} ${col(`${h.source}  lag  ${known(h.waiting)}`)}unacked  ${known(h.unacked)}   held here  ${count(h.held)}${h.error ? `   (broker: ${h.error})` : ''}`,
      );
    }
    if (r.stagesMs) {
      const s = r.stagesMs;
      lines.push(
        `${label('PER EVENT')} ${col(`in ring  ${ms(s.queueWait)} ms`)}decode + transform  ${ms(s.decodeTransform)} ms   sink write  ${ms(s.sinkWrite)} ms   release wait  ${ms(s.releaseWait)} ms`,
      );
    }
    for (const route of cur.routes ?? []) {
      const failing = route.failingSeconds > 0 ? `   FAILING for ${Math.round(route.failingSeconds)} s` : '';
      lines.push(
        `${label(route === cur.routes![0] ? 'ROUTES' : '')} ${col(route.name)}${perSec(r.routesPerSec[route.name])} events/s   written  ${count(route.written)}${failing}`,
      );
    }
    const verdict = boundBy(prev ?? null, cur);
    if (verdict) lines.push('', ...wrapped(`${label('PACE')} `, verdict.text, ctx.columns));
    if (!cur.ready && cur.notReadyReasons?.length)
      lines.push(`${label('NOT READY')} ${cur.notReadyReasons.join('; ')}`);
  }
  // Wrapped, not cut at the terminal's width: the reason is at the end of a long line.
  if (ctx.error)
    lines.push(
      '',
      ...wrapped('', `cannot reach ${ctx.url}/api/stats: ${ctx.error}`, ctx.columns),
      'retrying…',
    );
  lines.push(
    '',
    `rates over ${ctx.intervalMs} ms${ctx.interactive ? ' · q or Ctrl-C to quit' : ''}${cur && !prev ? ' · rates from the next snapshot' : ''}`,
  );
  // Never wider than the terminal: a wrapped line would scroll the frame.
  return lines.map((line) => printable(line).slice(0, Math.max(20, ctx.columns)));
}

/**
 * `text` with every control character (C0, DEL, C1) written out as `\xNN`. Names and messages come
 * from the server (a broker's error, a reason, a JSON parser's quote of a garbled answer): an
 * escape sequence among them would move the cursor, recolour or retitle the terminal, and a
 * newline would push the frame off its lines.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: they are what is being replaced
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * The disk queue's log: its backlog beyond the ring against maxDiskBytes as a bar, then the log's
 * size, its fsyncs and how long one took, and what was replayed at start.
 */
function diskLines(d: DiskQueueLiveStats, r: DiskRates | undefined, barWidth: number): string[] {
  const share = d.maxDiskBytes > 0 ? d.backlogBytes / d.maxDiskBytes : 0;
  const fsyncMs =
    r?.fsyncMs === undefined
      ? '– ms each'
      : `${ms(r.fsyncMs)} ms each${r.fsyncMsRecent ? '' : ' (since start)'}`;
  const log = `log  ${bytes(d.bytes)}, ${count(d.events)} events`;
  return [
    `${'DISK'.padEnd(11)} ${textBar(share, barWidth)} ${(share * 100).toFixed(1)} % of max   backlog  ${count(d.backlogEvents)} events, ${bytes(d.backlogBytes)} of ${bytes(d.maxDiskBytes)}`,
    `${''.padEnd(11)} ${log.padEnd(Math.max(28, log.length + 2))}fsync ${d.fsync}  ${perSec(r?.fsyncsPerSec)}/s, ${fsyncMs}   replayed at start  ${count(d.replayed)}`,
  ];
}

/** `text` in lines of at most `columns`, the first after `head`, the rest indented as far. */
function wrapped(head: string, text: string, columns: number): string[] {
  const width = Math.max(20, columns - head.length);
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i === 0 ? head : ' '.repeat(head.length)) + l);
}

/** Bold section headings and the title, for a terminal. */
export function embolden(line: string): string {
  return line.replace(/^(sluice top|[A-Z]{3,})(?= )/, '\x1b[1m$1\x1b[22m');
}
