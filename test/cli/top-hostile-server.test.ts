/**
 * `sluice top`, run as the built CLI (`npm run build` first), against servers that are not a
 * healthy Sluice: answers with figures missing, control characters in names and messages, answers
 * that trickle in or never end. It must keep drawing, say what is wrong, and quit when asked.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_ANSWER_BYTES } from '../../src/cli/stats-client.js';
import type { LiveStats } from '../../src/metrics/live-stats.js';
import { CLI, ROOT } from '../harness/built.js';
import { runCli } from '../helpers/cli.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A server on a free port answering every request with `handle`; resolves with its URL. */
async function serve(handle: Handler): Promise<string> {
  const server = createServer(handle);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A snapshot as a healthy Sluice answers it. */
function snapshot(extra: Partial<LiveStats> = {}): LiveStats {
  return {
    takenAt: Date.now(),
    pushed: 10,
    written: 10,
    deadLettered: 0,
    dropped: 0,
    retries: 0,
    queueDepthEvents: 0,
    queueDepthBytes: 0,
    queueCapacityBytes: 4096,
    producerBlockedSeconds: 0,
    backpressureEvents: 0,
    latencyP50Ms: 1,
    latencyP99Ms: 2,
    workers: 1,
    workerUtilization: 0,
    busySeconds: 0,
    sinkWriteSeconds: 0,
    sinkFailingSeconds: 0,
    ready: true,
    notReadyReasons: [],
    ...extra,
  };
}

interface Live {
  /** Resolves once the output so far matches `pattern`, or the process ended (then with false). */
  until(pattern: RegExp): Promise<boolean>;
  /** Sends SIGTERM (what `q` does in a terminal) and resolves with the exit code and output. */
  quit(): Promise<{ code: number | null; stdout: string; stderr: string }>;
  stdout(): string;
  /** SIGKILL. */
  kill(): void;
}

/** `sluice top ARGS…` running live, its output piped (so no terminal modes). */
function liveTop(...args: string[]): Live {
  const child = spawn(process.execPath, [CLI, 'top', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const changed = new Set<() => void>();
  const notify = () => {
    for (const f of changed) f();
  };
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
    notify();
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    notify();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  void exited.then(notify);
  return {
    stdout: () => stdout,
    kill: () => child.kill('SIGKILL'),
    until: (pattern) =>
      new Promise((resolve) => {
        const check = () => {
          if (pattern.test(stdout)) {
            changed.delete(check);
            resolve(true);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            changed.delete(check);
            resolve(false);
          }
        };
        changed.add(check);
        check();
      }),
    quit: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      return { code, stdout, stderr };
    },
  };
}

describe('sluice top against a server that is not a healthy Sluice', () => {
  it('keeps drawing and names the missing figure when a snapshot lacks figures', async () => {
    const url = await serve((_req, res) => res.end(JSON.stringify({ takenAt: Date.now(), pushed: 3 })));
    const top = liveTop('--url', url, '--interval', '100');
    const said = await top.until(/written must be a number, got undefined[\s\S]*written must be a number/);
    const exit = await top.quit();
    expect(exit.stderr).toBe('');
    expect(said).toBe(true);
    expect(exit.stdout).toContain('DISCONNECTED, retrying');
    expect(exit.code).toBe(0);

    const once = await runCli(['top', '--url', url, '--once', '--interval', '100']);
    expect(once.code).toBe(1);
    expect(once.stderr).toContain(
      'not a Sluice /api/stats snapshot: written must be a number, got undefined',
    );
    expect(once.stdout).toBe('');
  });

  it('refuses a snapshot whose routes are not a list of named routes, quoting what came', async () => {
    const url = await serve((_req, res) =>
      res.end(JSON.stringify({ ...snapshot(), routes: [{ name: 7, written: 1, failingSeconds: 0 }] })),
    );
    const once = await runCli(['top', '--url', url, '--once', '--interval', '100']);
    expect(once.code).toBe(1);
    expect(once.stderr).toContain('routes[0].name must be a string, got 7');
  });

  it('writes control characters in names and messages out as \\xNN, never to the terminal', async () => {
    const hostile = '\x1b[2J\x1b]0;owned\x07\r\n\x9b31m';
    const url = await serve((_req, res) =>
      res.end(
        JSON.stringify({
          ...snapshot({ ready: false, notReadyReasons: [`reason${hostile}`] }),
          source: {
            source: `kind${hostile}`,
            waiting: 1,
            unacked: 1,
            held: 1,
            at: 0,
            error: `down${hostile}`,
          },
          routes: [
            { name: `one${hostile}`, written: 1, failingSeconds: 0 },
            { name: 'two', written: 1, failingSeconds: 0 },
          ],
        }),
      ),
    );
    const once = await runCli(['top', '--url', url, '--once', '--interval', '100']);
    expect(once.stderr).toBe('');
    expect(once.code).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
    expect(once.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    const lines = once.stdout.split('\n');
    const shown = '\\x1b[2J\\x1b]0;owned\\x07\\x0d\\x0a\\x9b31m';
    expect(lines.filter((line) => line.startsWith('NOT READY'))).toEqual([`NOT READY   reason${shown}`]);
    expect(lines.find((line) => line.startsWith('ROUTES'))).toContain(`one${shown}`);
    const source = lines.find((line) => line.startsWith('SOURCE'));
    expect(source).toContain(`kind${shown}`);
    // The line is cut at the terminal's width; the broker's message starts within it.
    expect(source).toContain('(broker: down\\x1b[2J');

    // A garbled answer: the JSON parser's message quotes it.
    const garbled = await serve((_req, res) => res.end(`\x1b[31m${hostile}`));
    const refused = await runCli(['top', '--url', garbled, '--once', '--interval', '100']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not valid JSON');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
    expect(refused.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    const top = liveTop('--url', garbled, '--interval', '100');
    await top.until(/is not valid JSON[\s\S]*is not valid JSON/);
    const exit = await top.quit();
    expect(exit.code).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
    expect(exit.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  });

  it('gives up on an answer that trickles in without end, and says so', async () => {
    const url = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // A byte at a time: a socket's idle timeout never fires.
      const drip = setInterval(() => res.write(' '), 100);
      req.socket.once('close', () => clearInterval(drip));
    });
    const once = await runCli(['top', '--url', url, '--once', '--interval', '100'], { timeoutMs: 30_000 });
    expect(once.stderr).toContain('no whole answer within 2000 ms');
    expect(once.code).toBe(1);
  });

  it('refuses an answer past MAX_ANSWER_BYTES rather than holding all of it', async () => {
    const chunk = Buffer.alloc(1024 * 1024, ' ');
    const url = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // 64 MiB, then nothing more and no end: what would be held, without the bound.
      let sent = 0;
      const pour = () => {
        while (sent < 64 && res.write(chunk)) sent++;
        if (sent < 64) res.once('drain', pour);
      };
      pour();
      req.socket.once('close', () => res.off('drain', pour));
    });
    const once = await runCli(['top', '--url', url, '--once', '--interval', '100'], { timeoutMs: 30_000 });
    expect(once.stderr).toContain(`answered more than ${MAX_ANSWER_BYTES} bytes`);
    expect(once.code).toBe(1);
  });

  it('says it is connecting, and quits at once, while a poll waits on a server that never answers', async () => {
    let asked!: () => void;
    const polled = new Promise<void>((resolve) => {
      asked = resolve;
    });
    // Takes the request and never answers it.
    const url = await serve(() => asked());
    const top = liveTop('--url', url, '--interval', '60000');
    await polled;
    // Far below the poll's 60 s timeout: a process still running by then waits on the poll.
    const guard = setTimeout(() => top.kill(), 15_000);
    // Drawn before the first answer, not a blank screen until it comes.
    const connecting = await top.until(/^sluice top {2}\S+ {2}connecting/m);
    const exit = await top.quit();
    clearTimeout(guard);
    expect(connecting).toBe(true);
    expect(exit.stderr).toBe('');
    expect(exit.code).toBe(0);
  });
});
