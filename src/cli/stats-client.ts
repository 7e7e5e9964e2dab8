/** `sluice top`'s side of a metrics server: one /api/stats snapshot, and why a request failed. */
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { LiveStats } from '../metrics/live-stats.js';

/** A snapshot is a few kB (64 routes at most); an answer far past that is not one. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * One GET of /api/stats, whole within `timeoutMs` and `MAX_ANSWER_BYTES`: a server that trickles
 * its answer, or never ends it, fails the request instead of holding `sluice top` (an idle timeout
 * alone is reset by every byte) or filling its memory. node:http without an agent, so no
 * keep-alive socket holds the process open after `--once`; `signal` abandons the request.
 */
export function fetchStats(baseUrl: string, timeoutMs: number, signal?: AbortSignal): Promise<LiveStats> {
  const target = `${baseUrl}/api/stats`;
  const get = target.startsWith('https:') ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const request = get(target, { agent: false, signal }, (response: IncomingMessage) => {
      let body = '';
      let bytes = 0;
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        bytes += Buffer.byteLength(chunk);
        if (bytes > MAX_ANSWER_BYTES)
          request.destroy(new Error(`${target} answered more than ${MAX_ANSWER_BYTES} bytes`));
        else body += chunk;
      });
      response.on('error', reject);
      response.on('end', () => {
        if (response.statusCode !== 200)
          return reject(new Error(`HTTP ${response.statusCode} from ${target}`));
        try {
          resolve(checkSnapshot(JSON.parse(body)));
        } catch (error) {
          reject(new Error(`${target} answered, but ${(error as Error).message}`));
        }
      });
    });
    const deadline = setTimeout(
      () => request.destroy(new Error(`no whole answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    request.on('error', reject);
    request.on('close', () => clearTimeout(deadline));
  });
}

const NUMBERS = [
  'takenAt',
  'pushed',
  'written',
  'deadLettered',
  'dropped',
  'retries',
  'queueDepthEvents',
  'queueDepthBytes',
  'queueCapacityBytes',
  'producerBlockedSeconds',
  'backpressureEvents',
  'latencyP50Ms',
  'latencyP99Ms',
  'workers',
  'workerUtilization',
] as const;
const DISK_NUMBERS = [
  'bytes',
  'events',
  'backlogEvents',
  'backlogBytes',
  'maxDiskBytes',
  'fsyncs',
  'fsyncSeconds',
  'replayed',
] as const;
const STAGE_NUMBERS = [
  'events',
  'queueWaitSeconds',
  'decodeTransformSeconds',
  'sinkWriteSeconds',
  'releaseWaitSeconds',
] as const;

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function quoted(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/**
 * The answer as a snapshot, once every figure `sluice top` draws has the type it draws it as: a
 * server that answers something else (another program on the port, a garbled proxy) is reported
 * like one that cannot be reached, rather than failing in the middle of drawing a frame.
 */
export function checkSnapshot(value: unknown): LiveStats {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new Error(`not a Sluice /api/stats snapshot: ${field} must be ${expected}, got ${quoted(got)}`);
  };
  const numbers = (object: Fields, keys: readonly string[], prefix: string, optional = false) => {
    for (const key of keys) {
      const v = object[key];
      if (optional && v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${prefix}${key}`, 'a number', v);
    }
  };
  const string = (object: Fields, key: string, prefix: string, optional = false) => {
    const v = object[key];
    if (!(optional && v === undefined) && typeof v !== 'string') fail(`${prefix}${key}`, 'a string', v);
  };
  if (!isObject(value)) return fail('the answer', 'an object', value);
  numbers(value, NUMBERS, '');
  numbers(value, ['busySeconds', 'sinkWriteSeconds', 'sinkFailingSeconds'], '', true);
  if (typeof value.ready !== 'boolean') fail('ready', 'true or false', value.ready);
  const reasons = value.notReadyReasons;
  if (!Array.isArray(reasons) || reasons.some((r) => typeof r !== 'string'))
    fail('notReadyReasons', 'a list of strings', reasons);
  if (value.source !== undefined) {
    const source = value.source;
    if (!isObject(source)) return fail('source', 'an object', source);
    string(source, 'source', 'source.');
    string(source, 'error', 'source.', true);
    numbers(source, ['held'], 'source.');
    numbers(source, ['waiting', 'unacked'], 'source.', true);
  }
  if (value.stages !== undefined) {
    if (!isObject(value.stages)) return fail('stages', 'an object', value.stages);
    numbers(value.stages, STAGE_NUMBERS, 'stages.');
  }
  if (value.routes !== undefined) {
    if (!Array.isArray(value.routes)) return fail('routes', 'a list', value.routes);
    for (const [i, route] of (value.routes as unknown[]).entries()) {
      if (!isObject(route)) return fail(`routes[${i}]`, 'an object', route);
      string(route, 'name', `routes[${i}].`);
      numbers(route, ['written', 'failingSeconds'], `routes[${i}].`);
    }
  }
  if (value.disk !== undefined) {
    if (!isObject(value.disk)) return fail('disk', 'an object', value.disk);
    numbers(value.disk, DISK_NUMBERS, 'disk.');
    string(value.disk, 'fsync', 'disk.');
  }
  return value as unknown as LiveStats;
}

/** Why a request failed, in a few words (connection errors carry their code, e.g. ECONNREFUSED). */
export function describeError(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] };
  const code = e.code ?? e.errors?.[0]?.code;
  const message = e.message || e.errors?.[0]?.message || String(error);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}
