/**
 * The PostgreSQL the suites may use: reachable at POSTGRES_URL (or DATABASE_URL), checked once at
 * import. Under CI=true an unreachable server is a failure, not a skip: `postgresSkip` is then
 * false, and the tests fail on their first connection. Elsewhere they skip, saying why.
 */
import pg from 'pg';

export const POSTGRES_URL =
  process.env.POSTGRES_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function reachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

const problem = await reachable();

/** True when the PostgreSQL suites should be skipped (unreachable, and not in CI). */
export const postgresSkip = problem !== undefined && process.env.CI !== 'true';

/** In a beforeAll of a suite that needs PostgreSQL: fails the suite at once when it is unreachable (CI). */
export function requirePostgres(): void {
  if (problem !== undefined) throw new Error(`PostgreSQL at ${POSTGRES_URL} is unreachable: ${problem}`);
}

/** Call at the top of a suite that needs PostgreSQL: prints why it is skipped, if it is. */
export function announcePostgres(suite: string): void {
  if (problem === undefined) return;
  if (postgresSkip) {
    console.warn(`${suite}: skipped, PostgreSQL at ${POSTGRES_URL} is unreachable (${problem})`);
  } else {
    console.warn(`${suite}: PostgreSQL at ${POSTGRES_URL} is unreachable (${problem}); CI=true, so failing`);
  }
}

/** Runs `fn` with a fresh connection of its own. */
export async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropTable(table: string): Promise<void> {
  await withClient((client) => client.query(`DROP TABLE IF EXISTS "${table}"`));
}

/** Every id stored in a table (duplicates included), through a fresh connection; none if absent. */
export async function readPostgresIds(table: string): Promise<string[]> {
  return withClient(async (client) => {
    const exists = await client.query('SELECT to_regclass($1) AS t', [`"${table}"`]);
    if (exists.rows[0]?.t === null) return [];
    const result = await client.query<{ id: string }>(`SELECT id FROM "${table}"`);
    return result.rows.map((row) => row.id);
  });
}
