import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../errors.js';

/** What the server asks of a pipeline (or of anything that exposes the same figures). */
export interface ObservablePipeline {
  readonly metrics: { metrics(): Promise<string>; contentType: string };
  health(): { alive: boolean; ready: boolean; reasons: string[] };
  liveStats(): unknown;
  /** Recent snapshots, oldest first, served at /api/history when present. */
  liveHistory?(): unknown[];
}

export interface MetricsServerOptions {
  /** @default '127.0.0.1' — not reachable from other machines unless asked for */
  host?: string;
  /** 0 picks a free port. @default 9464 */
  port?: number;
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464 */
  readonly url: string;
  close(): Promise<void>;
}

// Up and down again rather than './dashboard/': the same directory from this module's own file
// (dist/src/metrics/) and from the `sluice` command's bundle (dist/src/cli/, src/cli/bundle-cli.ts).
const DASHBOARD_DIR = new URL('../metrics/dashboard/', import.meta.url);
const STATIC: Record<string, string> = {
  '/': 'index.html',
  '/dashboard.js': 'dashboard.js',
  '/charts.js': 'charts.js',
  '/bound-by.js': 'bound-by.js',
  '/format.js': 'format.js',
  '/live-rates.js': 'live-rates.js',
  '/tiles.js': 'tiles.js',
  '/uplot.min.js': 'uplot.min.js',
  '/uplot.min.css': 'uplot.min.css',
};
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript',
  css: 'text/css',
};

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/**
 * Serves `/metrics` (Prometheus text format), `/healthz` (alive), `/readyz` (taking events and the
 * sink healthy; 503 otherwise, with the reasons), `/api/stats` (one JSON snapshot for the live
 * dashboard and `sluice top`), `/api/history` (the snapshots of the last two minutes, one a
 * second, sampled from the server's start) and the dashboard page at `/`. Bound to 127.0.0.1 by
 * default.
 */
export async function createMetricsServer(
  pipeline: ObservablePipeline,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 9464;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidOptionError('metrics.port', 'a port from 0 to 65535', port);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // A figure that cannot be read (a getter that throws, a value JSON cannot carry) fails its
    // request, not the process: a throw here would be uncaught and end the pipeline with it.
    try {
      route(req, res);
    } catch (error) {
      if (!res.headersSent) send(res, 500, 'text/plain', `${String(error)}\n`);
      else res.destroy();
    }
  });
  const route = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, 'text/plain', 'method not allowed\n');
    if (path === '/metrics') {
      pipeline.metrics.metrics().then(
        (text) => send(res, 200, pipeline.metrics.contentType, text),
        (error: unknown) => send(res, 500, 'text/plain', `${String(error)}\n`),
      );
      return;
    }
    if (path === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
    if (path === '/readyz') {
      const health = pipeline.health();
      return send(
        res,
        health.ready ? 200 : 503,
        'text/plain',
        health.ready ? 'ready\n' : `${health.reasons.join('\n')}\n`,
      );
    }
    if (path === '/api/stats')
      return send(res, 200, 'application/json', JSON.stringify(pipeline.liveStats()));
    if (path === '/api/history')
      return send(res, 200, 'application/json', JSON.stringify(pipeline.liveHistory?.() ?? []));
    const file = STATIC[path];
    if (!file) return send(res, 404, 'text/plain', 'not found\n');
    readFile(new URL(file, DASHBOARD_DIR)).then(
      (body) => send(res, 200, TYPES[file.split('.').pop()!] ?? 'application/octet-stream', body),
      () => send(res, 404, 'text/plain', 'dashboard not built\n'),
    );
  };
  // The history starts now, so a dashboard opened later finds the minutes before it.
  pipeline.liveHistory?.();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
