import { InvalidOptionError } from '../errors.js';
import type { LiveStats } from '../metrics/live-stats.js';
import { parseFlags } from './parse-flags.js';
import { describeError, fetchStats } from './stats-client.js';
import { embolden, printable, renderFrame } from './top-frame.js';

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
    io.stderr.write(
      `sluice top: cannot reach ${options.url}/api/stats: ${printable(describeError(error))}\n`,
    );
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
  // Quitting abandons the poll in flight: its socket would keep the process alive until it ends.
  const quitting = new AbortController();

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
      const next = await fetchStats(options.url, Math.max(2000, options.intervalMs), quitting.signal);
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
      quitting.abort();
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
    // The first poll may take up to its timeout: until it ends, the frame says it is connecting.
    draw();
    void tick();
  });
}
