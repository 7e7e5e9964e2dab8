import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline } from '../../src/engine/pipeline.js';
import type { LiveStats } from '../../src/metrics/live-stats.js';
import { createMetricsServer, type MetricsServer } from '../../src/metrics/metrics-server.js';
import { CLI } from '../harness/built.js';

/** The built metrics server, for a process of its own. */
const SERVER = fileURLToPath(new URL('../../dist/src/metrics/metrics-server.js', import.meta.url));

let pipeline: Pipeline | undefined;
let server: MetricsServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  await pipeline?.close().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
  pipeline = undefined;
  server = undefined;
});

async function start(): Promise<{ p: Pipeline; s: MetricsServer }> {
  dir = mkdtempSync(join(tmpdir(), 'sluice-server-'));
  pipeline = await createPipeline({
    workers: { min: 1, max: 1 },
    sink: { type: 'sqlite', path: join(dir, 'out.db') },
    deadLetter: { type: 'ndjson', path: join(dir, 'dead.ndjson') },
  });
  server = await createMetricsServer(pipeline, { port: 0 });
  return { p: pipeline, s: server };
}

describe('the metrics server', () => {
  it('binds to 127.0.0.1 by default and serves /metrics in the Prometheus text format', async () => {
    const { p, s } = await start();
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await p.pushMany(Array.from({ length: 25 }, (_, i) => ({ id: `s-${i}`, payload: { i } })));
    await p.drained();
    const response = await fetch(`${s.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const families = parsePrometheus(await response.text()) as {
      name: string;
      metrics: { value?: string }[];
    }[];
    const written = families.find((f) => f.name === 'sluice_events_written_total');
    expect(Number(written?.metrics[0]?.value)).toBe(25);
  });

  it('answers /healthz, /readyz and /api/stats, and 404 elsewhere', async () => {
    const { p, s } = await start();
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    await p.push({ id: 'one', payload: 1 });
    await p.drained();
    const stats = (await (await fetch(`${s.url}/api/stats`)).json()) as LiveStats;
    expect(stats).toMatchObject({ pushed: 1, written: 1, deadLettered: 0, queueDepthEvents: 0, ready: true });
    expect(stats.queueCapacityBytes).toBeGreaterThan(0);
    expect((await fetch(`${s.url}/nope`)).status).toBe(404);
  });

  it('/readyz turns 503, saying why, once the pipeline is shutting down', async () => {
    const { p, s } = await start();
    const closing = p.close();
    const response = await fetch(`${s.url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('shutting down');
    await closing;
  });
});

describe('sluice bench --serve', () => {
  it('serves the running engine: /metrics counts the events of the run', async () => {
    const { spawn } = await import('node:child_process');
    const net = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    const child = spawn(
      process.execPath,
      [
        CLI,
        'bench',
        '--scenario',
        'trivial',
        '--systems',
        'engine',
        '--duration',
        '3',
        '--workers',
        '1',
        '--rate',
        '2000',
        '--serve',
        `127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    // The CLI says where it serves once the server listens.
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('live dashboard:')) resolve();
      });
      child.once('exit', () => reject(new Error('bench exited before serving')));
    });
    let pushed = 0;
    for (let attempt = 0; attempt < 50 && pushed === 0; attempt++) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const families = parsePrometheus(text) as { name: string; metrics: { value?: string }[] }[];
      pushed = Number(families.find((f) => f.name === 'sluice_events_pushed_total')?.metrics[0]?.value ?? 0);
      if (pushed === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(pushed).toBeGreaterThan(0);
    await new Promise((resolve) => child.once('exit', resolve));
  });

  it('answers 500 when a figure cannot be read, and keeps serving: the process lives on', async () => {
    // In a process of its own, so that an uncaught throw would end that process, not this one.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        const { createMetricsServer } = await import(${JSON.stringify(pathToFileURL(SERVER).href)});
        const broken = () => { throw new Error('figures unavailable'); };
        const server = await createMetricsServer(
          { metrics: { metrics: async () => '', contentType: 'text/plain' }, health: broken, liveStats: broken, liveHistory: () => [{ n: 1n }] },
          { port: 0 },
        );
        console.log(server.url);
        `,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
        child.once('exit', (code) => reject(new Error(`the server's process exited with ${code}`)));
      });
      for (const path of ['/api/stats', '/readyz', '/api/history']) {
        const response = await fetch(`${url}${path}`);
        expect([path, response.status]).toEqual([path, 500]);
      }
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect(child.exitCode).toBe(null);
    } finally {
      child.kill();
    }
  });
});
