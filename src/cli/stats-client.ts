/** `sluice top`'s side of a metrics server: one /api/stats snapshot, and why a request failed. */
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { LiveStats } from '../metrics/live-stats.js';

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
          if (typeof stats !== 'object' || stats === null || typeof stats.takenAt !== 'number')
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
