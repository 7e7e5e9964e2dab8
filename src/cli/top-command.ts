import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { InvalidOptionError } from '../errors.js';
import type { LiveStats } from '../metrics/live-stats.js';
import { parseFlags } from './parse-flags.js';

export const TOP_HELP = `Usage: sluice top [--url http://HOST:PORT] [options]

A one-screen live view of a running Sluice (its metrics server's /api/stats): events/s in and out,
end-to-end latency, ring fill, producer blocked time, workers, retries, dead letters and drops.
Rates come from successive snapshots. Quit with q or Ctrl-C.

Options:
  --url URL           the metrics server (default: http://127.0.0.1:9464; HOST:PORT is accepted)
  --interval MS       milliseconds between snapshots, at least 100 (default: 1000)
  --once              take two snapshots --interval apart, print one frame and exit (exit 1 if unreachable)
  -h, --help          show this help
`;

export interface TopOptions {
  /** Base URL of the metrics server, without a trailing slash. */
  url: string;
  /** Milliseconds between snapshots. */
  intervalMs: number;
  once: boolean;
}

const DEFAULT_URL = 'http://127.0.0.1:9464';
const MIN_INTERVAL_MS = 100;

/** Parses and validates `sluice top` flags; errors name the flag and quote the value. */
export function parseTopArgs(argv: string[]): TopOptions | 'help' {
  const values = parseFlags(
    argv,
    {
      url: { type: 'string' },
      interval: { type: 'string' },
      once: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    'sluice top --help',
  );
  if (values.help) return 'help';
  const urlText = (values.url as string | undefined) ?? DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(urlText.includes('://') ? urlText : `http://${urlText}`);
  } catch {
    throw new InvalidOptionError('--url', 'an http:// URL such as http://127.0.0.1:9464', urlText);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidOptionError('--url', 'an http:// URL such as http://127.0.0.1:9464', urlText);
  const intervalText = (values.interval as string | undefined) ?? '1000';
  const intervalMs = Number(intervalText);
  if (!Number.isInteger(intervalMs) || intervalMs < MIN_INTERVAL_MS)
    throw new InvalidOptionError(
      '--interval',
      `an integer number of milliseconds ≥ ${MIN_INTERVAL_MS}`,
      intervalText,
    );
  return { url: url.href.replace(/\/+$/, ''), intervalMs, once: Boolean(values.once) };
}

/**
 * One GET of /api/stats. node:http without an agent, so no keep-alive socket holds the process
 * open after `--once`.
 */
export function fetchStats(baseUrl: string, timeoutMs: number): Promise<LiveStats> {
  const target = `${baseUrl}/api/stats`;
  const get = target.startsWith('https:') ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const request = get(target, { agent: false, timeout: timeoutMs }, (response: IncomingMessage) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('error', reject);
      response.on('end', () => {
        if (response.statusCode !== 200)
          return reject(new Error(`HTTP ${response.statusCode} from ${target}`));
        try {
          const stats = JSON.parse(body) as LiveStats;
          if (typeof stats !== 'object' || stats === null || typeof stats.t !== 'number')
            throw new Error('not a Sluice /api/stats snapshot');
          resolve(stats);
        } catch (error) {
          reject(new Error(`${target} answered, but ${(error as Error).message}`));
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

/** Why a request failed, in a few words (connection errors carry their code, e.g. ECONNREFUSED). */
export function describeError(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] };
  const code = e.code ?? e.errors?.[0]?.code;
  const message = e.message || e.errors?.[0]?.message || String(error);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}

// ---- figures ----

/** Rates per second between two snapshots of cumulative counters (none across a reset). */
export interface Rates {
  inPerSec: number | undefined;
  outPerSec: number | undefined;
  retriesPerSec: number | undefined;
  deadLetteredPerSec: number | undefined;
  droppedPerSec: number | undefined;
  /** Seconds blocked per second: the share of time producers waited on a full ring. */
  blockedShare: number | undefined;
}

export function ratesBetween(prev: LiveStats | undefined, cur: LiveStats): Rates {
  const dtS = prev ? (cur.t - prev.t) / 1000 : 0;
  const rate = (key: keyof LiveStats): number | undefined => {
    if (!prev || dtS <= 0) return undefined;
    const delta = (cur[key] as number) - (prev[key] as number);
    return Number.isFinite(delta) && delta >= 0 ? delta / dtS : undefined;
  };
  const blocked = rate('producerBlockedSeconds');
  return {
    inPerSec: rate('pushed'),
    outPerSec: rate('written'),
    retriesPerSec: rate('retries'),
    deadLetteredPerSec: rate('deadLettered'),
    droppedPerSec: rate('dropped'),
    blockedShare: blocked === undefined ? undefined : Math.min(1, blocked),
  };
}

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
  const time = cur ? new Date(cur.t).toLocaleTimeString('en-GB') : '';
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
      `${label('PRODUCERS')} ${col(`blocked  ${cur.producerBlockedSeconds.toFixed(2)} s`)}now blocked  ${percent(r.blockedShare)} of the time`,
      `${label('WORKERS')} ${col(`${count(cur.workers)} worker thread${cur.workers === 1 ? '' : 's'}`)}utilization  ${percent(cur.workerUtilization)}`,
      `${label('DELIVERY')} ${col(`retries  ${count(cur.retries)} (${perSec(r.retriesPerSec)}/s)`)}dead letters  ${count(cur.deadLettered)} (${perSec(r.deadLetteredPerSec)}/s)`,
      `${label('')} ${col(`dropped  ${count(cur.dropped)} (${perSec(r.droppedPerSec)}/s)`)}`.trimEnd(),
    );
  }
  if (ctx.error) lines.push('', `cannot reach ${ctx.url}/api/stats: ${ctx.error}`, 'retrying…');
  lines.push(
    '',
    `rates over ${ctx.intervalMs} ms${ctx.interactive ? ' · q or Ctrl-C to quit' : ''}${cur && !prev ? ' · rates from the next snapshot' : ''}`,
  );
  // Never wider than the terminal: a wrapped line would scroll the frame.
  return lines.map((line) => line.slice(0, Math.max(20, ctx.columns)));
}

/** Bold section headings and the title, for a terminal. */
function embolden(line: string): string {
  return line.replace(/^(sluice top|[A-Z]{3,})(?= )/, '\x1b[1m$1\x1b[22m');
}

// ---- the command ----

const CSI = '\x1b[';
const ENTER_SCREEN = `${CSI}?1049h${CSI}?25l`;
const LEAVE_SCREEN = `${CSI}?25h${CSI}?1049l`;
const HOME = `${CSI}H`;
const CLEAR_LINE_END = `${CSI}K`;
const CLEAR_BELOW = `${CSI}J`;

export interface TopIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

const sleep = (msToWait: number) => new Promise((resolve) => setTimeout(resolve, msToWait));

async function once(options: TopOptions, io: TopIo): Promise<number> {
  const timeoutMs = Math.max(2000, options.intervalMs);
  try {
    const first = await fetchStats(options.url, timeoutMs);
    await sleep(options.intervalMs);
    const second = await fetchStats(options.url, timeoutMs);
    const lines = renderFrame(second, first, {
      url: options.url,
      intervalMs: options.intervalMs,
      columns: io.stdout.columns || 120,
      interactive: false,
    });
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (error) {
    io.stderr.write(`sluice top: cannot reach ${options.url}/api/stats: ${describeError(error)}\n`);
    return 1;
  }
}

/** `sluice top`: returns the process exit code once the user quits (or after one frame with --once). */
export async function topCommand(argv: string[], io: TopIo = process): Promise<number> {
  const options = parseTopArgs(argv);
  if (options === 'help') {
    io.stdout.write(TOP_HELP);
    return 0;
  }
  if (options.once) return once(options, io);

  const tty = io.stdout.isTTY === true;
  const keys = io.stdin.isTTY === true;
  let prev: LiveStats | undefined;
  let cur: LiveStats | undefined;
  let error: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const draw = () => {
    const lines = renderFrame(cur, prev, {
      url: options.url,
      intervalMs: options.intervalMs,
      columns: io.stdout.columns || 120,
      error,
      interactive: keys,
    }).map((line) => (tty && !process.env.NO_COLOR ? embolden(line) : line));
    // In place: home the cursor, overwrite each line, clear what is left of the last frame.
    if (tty)
      io.stdout.write(`${HOME}${lines.map((l) => `${l}${CLEAR_LINE_END}`).join('\n')}\n${CLEAR_BELOW}`);
    else io.stdout.write(`${lines.join('\n')}\n\n`);
  };

  const tick = async () => {
    try {
      const next = await fetchStats(options.url, Math.max(2000, options.intervalMs));
      // After an outage the server may have restarted: no rate across the gap.
      prev = error ? undefined : cur;
      cur = next;
      error = undefined;
    } catch (e) {
      error = describeError(e);
    }
    if (stopped) return;
    draw();
    timer = setTimeout(tick, options.intervalMs);
  };

  return new Promise<number>((resolve) => {
    const onKey = (data: Buffer | string) => {
      const key = data.toString();
      if (key === 'q' || key === 'Q' || key === '\x03') stop();
    };
    const onResize = () => {
      if (tty) io.stdout.write(`${HOME}${CLEAR_BELOW}`);
      draw();
    };
    const stop = () => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.stdout.off('resize', onResize);
      if (keys) {
        io.stdin.off('data', onKey);
        io.stdin.setRawMode(false);
        io.stdin.pause();
      }
      if (tty) io.stdout.write(LEAVE_SCREEN);
      resolve(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (tty) {
      // The alternate screen: nothing scrolls, and the shell's screen comes back on exit.
      io.stdout.write(ENTER_SCREEN);
      io.stdout.on('resize', onResize);
    }
    if (keys) {
      // Raw mode delivers Ctrl-C as a byte (\x03) rather than SIGINT; onKey handles both.
      io.stdin.setRawMode(true);
      io.stdin.resume();
      io.stdin.on('data', onKey);
    }
    void tick();
  });
}
