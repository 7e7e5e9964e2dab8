/**
 * `sluice validate --connect`, run as the built CLI (`npm run build` first): after the config
 * validates, the sink and the dead-letter sink are opened and closed, so what a run would meet at
 * start-up — a missing table, column or unique index, a server that cannot be reached — is said
 * without running.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE } from '../../src/cli/exit-codes.js';
import { runCli } from '../helpers/cli.js';

const sluice = (...args: string[]) => runCli(args, { timeoutMs: 20_000 });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-validate-connect-'));
  const db = new Database(join(dir, 'shop.db'));
  db.exec('CREATE TABLE orders (order_id TEXT PRIMARY KEY, amount NUMERIC, status TEXT)');
  db.close();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(config: unknown): string {
  const path = join(dir, 'sluice.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

const SOURCE = { type: 'synthetic' };
const DEAD_LETTER = { type: 'ndjson', path: 'dead.ndjson' };
const ordersSink = (columns: Record<string, string>) => ({
  type: 'sqlite',
  path: 'shop.db',
  table: 'orders',
  columns,
  onConflict: { target: ['order_id'], action: 'update' },
});

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('sluice validate --connect', () => {
  it('opens and closes the sink and the dead-letter sink, then says OK (exit 0)', async () => {
    const config = writeConfig({
      source: SOURCE,
      sink: ordersSink({ order_id: 'key', amount: 'payload.amount', status: 'payload.status' }),
      deadLetter: DEAD_LETTER,
    });
    const run = await sluice('validate', '--config', config, '--connect');
    expect(run).toEqual({ code: EXIT_OK, stdout: 'config OK; sink and deadLetter opened\n', stderr: '' });
    // The dead-letter sink was opened as a run opens it.
    expect(existsSync(join(dir, 'dead.ndjson'))).toBe(true);
  });

  it('names a mapped column the table does not have, exit 69', async () => {
    const config = writeConfig({
      source: SOURCE,
      sink: ordersSink({ order_id: 'key', amount: 'payload.amount', discount: 'payload.discount' }),
      deadLetter: DEAD_LETTER,
    });
    const run = await sluice('validate', '--config', config, '--connect');
    expect(run.code).toBe(EXIT_UNAVAILABLE);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'sluice: sink (sqlite) cannot be opened: sqlite: table orders has no column discount (mapped from payload.discount); its columns: order_id, amount, status\n',
    );
  });

  it('opens every route’s sink and own dead-letter sink, naming the route whose sink cannot open', async () => {
    const ok = writeConfig({
      source: SOURCE,
      routes: {
        orders: {
          sink: ordersSink({ order_id: 'key', amount: 'payload.amount' }),
          deadLetter: { type: 'ndjson', path: 'orders-dead.ndjson' },
        },
        archive: { sink: { type: 'ndjson', path: 'archive.ndjson' } },
      },
      deadLetter: DEAD_LETTER,
    });
    const run = await sluice('validate', '--config', ok, '--connect');
    expect(run).toEqual({ code: EXIT_OK, stdout: 'config OK; 4 sinks opened\n', stderr: '' });
    for (const file of ['orders-dead.ndjson', 'archive.ndjson', 'dead.ndjson'])
      expect(existsSync(join(dir, file))).toBe(true);

    const bad = writeConfig({
      source: SOURCE,
      routes: {
        orders: { sink: ordersSink({ order_id: 'key', discount: 'payload.discount' }) },
        archive: { sink: { type: 'ndjson', path: 'archive.ndjson' } },
      },
      deadLetter: DEAD_LETTER,
    });
    const refused = await sluice('validate', '--config', bad, '--connect');
    expect(refused.code).toBe(EXIT_UNAVAILABLE);
    expect(refused.stderr).toMatch(
      /^sluice: routes\.orders\.sink \(sqlite\) cannot be opened: sqlite: table orders has no column discount/,
    );
  });

  it('says the same config is valid without --connect, opening nothing', async () => {
    const config = writeConfig({
      source: SOURCE,
      sink: ordersSink({ order_id: 'key', discount: 'payload.discount' }),
      deadLetter: DEAD_LETTER,
    });
    const run = await sluice('validate', '--config', config);
    expect(run).toEqual({ code: EXIT_OK, stdout: 'config OK\n', stderr: '' });
    expect(existsSync(join(dir, 'dead.ndjson'))).toBe(false);
  });

  it('names a missing table and a conflict target without a unique index', async () => {
    const missingTable = await sluice(
      'validate',
      '--connect',
      '--config',
      writeConfig({ source: SOURCE, sink: { ...ordersSink({ order_id: 'id' }), table: 'invoices' } }),
    );
    expect(missingTable.code).toBe(EXIT_UNAVAILABLE);
    expect(missingTable.stderr).toContain('sqlite: table invoices does not exist in ');
    const noUnique = await sluice(
      'validate',
      '--connect',
      '--config',
      writeConfig({
        source: SOURCE,
        sink: {
          ...ordersSink({ order_id: 'id', status: 'payload.status' }),
          onConflict: { target: ['status'] },
        },
      }),
    );
    expect(noUnique.code).toBe(EXIT_UNAVAILABLE);
    expect(noUnique.stderr).toContain(
      'sqlite: table orders has no UNIQUE index or PRIMARY KEY on (status), the conflict target',
    );
  });

  it('reports a dead-letter server that cannot be reached, exit 69', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const config = writeConfig({
      source: SOURCE,
      sink: ordersSink({ order_id: 'id' }),
      deadLetter: { type: 'redis-streams', url, stream: 'dead', timeoutMs: 2000 },
    });
    const run = await sluice('validate', '--config', config, '--connect');
    expect(run.code).toBe(EXIT_UNAVAILABLE);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      new RegExp(
        `^sluice: deadLetter \\(redis-streams\\) cannot be opened: redis-streams: cannot connect to ${url}`,
      ),
    );
  });

  it('checks the config first: an invalid one is listed (exit 64) and nothing is opened', async () => {
    const config = writeConfig({
      source: SOURCE,
      sink: { ...ordersSink({ order_id: 'id' }), synchronous: 'sometimes' },
      deadLetter: DEAD_LETTER,
    });
    const run = await sluice('validate', '--config', config, '--connect');
    expect(run.code).toBe(EXIT_USAGE);
    expect(run.stderr).toContain('sink.synchronous must be "normal" or "full", got "sometimes"');
    expect(existsSync(join(dir, 'dead.ndjson'))).toBe(false);
  });

  it('is a flag of validate only', async () => {
    const run = await sluice('run', '--config', writeConfig({ source: SOURCE }), '--connect');
    expect(run).toEqual({
      code: EXIT_USAGE,
      stdout: '',
      stderr: "sluice: unknown option '--connect'; see 'sluice run --help'\n",
    });
  });
});
