/**
 * Applies `sql/migrations/*.sql` with node-pg-migrate, safely under concurrent starts (two Lambdas,
 * a cron job and a person, two `weather status`):
 *
 * 1. If every migration file is already recorded in ops.schema_migrations, return: no lock at all,
 *    so the common case (a current schema) never contends.
 * 2. Otherwise wait for node-pg-migrate's advisory lock, bounded by `lockWaitMs`
 *    (node-pg-migrate's own lock either fails at once or waits forever).
 * 3. Holding it, run node-pg-migrate with `noLock`; it re-reads what is applied, so a process that
 *    waited while another migrated applies nothing.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PG_MIGRATE_LOCK_ID, runner } from "node-pg-migrate";
import type pg from "pg";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../sql/migrations", import.meta.url));

/** How long a start waits for another process's migrations before giving up. */
export const MIGRATION_LOCK_WAIT_MS = 120_000;

const MIGRATIONS_TABLE = "schema_migrations";
const MIGRATIONS_SCHEMA = "ops";

/** Another process held the migration lock for longer than the wait allows. */
export class MigrationLockTimeoutError extends Error {
  override name = "MigrationLockTimeoutError";
}

/** Migration names as node-pg-migrate records them: file names without the extension. */
export function migrationNames(dir: string = MIGRATIONS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /\.(sql|js|ts)$/.test(f))
    .map((f) => f.replace(/\.[^.]+$/, ""))
    .sort();
}

/** The migrations in `dir` not yet recorded as applied in ops.schema_migrations. */
export async function pendingMigrations(
  db: pg.Pool | pg.PoolClient,
  dir: string = MIGRATIONS_DIR,
): Promise<string[]> {
  const names = migrationNames(dir);
  const table = await db.query<{ t: string | null }>("select to_regclass($1)::text as t", [
    `${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`,
  ]);
  if (!table.rows[0]?.t) return names;
  const { rows } = await db.query<{ name: string }>(
    `select name from ${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`,
  );
  const applied = new Set(rows.map((r) => r.name));
  return names.filter((n) => !applied.has(n));
}

/**
 * Runs pending migrations on a dedicated client of `pool`; returns the names applied (none when the
 * schema is current). See the module header for the locking.
 * @throws MigrationLockTimeoutError when another process holds the migration lock past `lockWaitMs`.
 */
export async function migrate(
  pool: pg.Pool,
  dir: string = MIGRATIONS_DIR,
  opts: { lockWaitMs?: number } = {},
): Promise<string[]> {
  if ((await pendingMigrations(pool, dir)).length === 0) return [];
  const lockWaitMs = opts.lockWaitMs ?? MIGRATION_LOCK_WAIT_MS;
  const client = await pool.connect();
  let locked = false;
  let tainted = false;
  try {
    try {
      // `set local`: the bound applies to this wait only; the session-level lock outlives the commit.
      await client.query("begin");
      await client.query(`set local lock_timeout = ${Math.max(1, Math.round(lockWaitMs))}`);
      await client.query("select pg_advisory_lock($1::bigint)", [String(PG_MIGRATE_LOCK_ID)]);
      await client.query("commit");
      locked = true;
    } catch (e) {
      await client.query("rollback").catch(() => {});
      if ((e as { code?: string }).code === "55P03")
        throw new MigrationLockTimeoutError(
          `Another process has held the migration lock for over ${lockWaitMs} ms. If no migration is ` +
            "running, find the session holding advisory lock " +
            `${PG_MIGRATE_LOCK_ID} in pg_locks and end it; then start again.`,
          { cause: e },
        );
      throw e;
    }
    // A migration may rewrite a large table: the session's statement_timeout must not cut it short.
    const { rows } = await client.query<{ st: string }>("select current_setting('statement_timeout') as st");
    await client.query("set statement_timeout = 0");
    try {
      const run = () =>
        runner({
          dbClient: client,
          dir,
          direction: "up",
          migrationsTable: MIGRATIONS_TABLE,
          migrationsSchema: MIGRATIONS_SCHEMA,
          createMigrationsSchema: true,
          checkOrder: true,
          singleTransaction: true,
          noLock: true,
          log: () => {},
          logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
        });
      // Roles are cluster-wide but the lock above is per database: two databases migrating at once on
      // one server can both `alter role` and one gets "tuple concurrently updated". The whole run is one
      // transaction that rolled back, so running it again is safe.
      for (let attempt = 1; ; attempt++) {
        try {
          return (await run()).map((m) => m.name);
        } catch (e) {
          if (attempt >= 3 || !/tuple concurrently (updated|deleted)/.test(String((e as Error).message)))
            throw e;
        }
      }
    } finally {
      await client
        .query("select set_config('statement_timeout', $1, false)", [rows[0]?.st ?? "0"])
        .catch(() => {
          tainted = true; // never hand a session without its statement_timeout back to the pool
        });
    }
  } finally {
    if (locked)
      await client
        .query("select pg_advisory_unlock($1::bigint)", [String(PG_MIGRATE_LOCK_ID)])
        .catch(() => {});
    client.release(tainted);
  }
}
