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
 * 4. Then, still holding it, apply `sql/views/*.sql` (the gold views analysts and Superset read) with
 *    `create or replace view` — every file when a migration ran, else only files whose content hash
 *    differs from the one recorded in ops.view_versions. A current schema with unchanged views still
 *    takes no lock. `create or replace` keeps the view's grants (superset_reader, migration 0020).
 *    Files apply in name order; a view reading another view relies on the latter already existing.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { backOff } from "exponential-backoff";
import { PG_MIGRATE_LOCK_ID, runner } from "node-pg-migrate";
import type pg from "pg";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../sql/migrations", import.meta.url));

export const VIEWS_DIR = fileURLToPath(new URL("../../sql/views", import.meta.url));

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

/** A view file: its name (without `.sql`), its SQL and the hash ops.view_versions records. */
export interface ViewFile {
  name: string;
  sql: string;
  hash: string;
}

/** The view files in `dir`, in name order. */
export function viewFiles(dir: string = VIEWS_DIR): ViewFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((f) => {
      const sql = readFileSync(join(dir, f), "utf8");
      return { name: f.replace(/\.sql$/, ""), sql, hash: createHash("sha256").update(sql).digest("hex") };
    });
}

/** The view files in `dir` whose hash differs from the one recorded in ops.view_versions (all when none is). */
export async function staleViews(db: pg.Pool | pg.PoolClient, dir: string = VIEWS_DIR): Promise<ViewFile[]> {
  const files = viewFiles(dir);
  const table = await db.query<{ t: string | null }>("select to_regclass('ops.view_versions')::text as t");
  if (!table.rows[0]?.t) return files;
  const { rows } = await db.query<{ name: string; hash: string }>("select name, hash from ops.view_versions");
  const recorded = new Map(rows.map((r) => [r.name, r.hash]));
  return files.filter((f) => recorded.get(f.name) !== f.hash);
}

async function applyViews(client: pg.PoolClient, views: ViewFile[]): Promise<void> {
  if (views.length === 0) return;
  await client.query("begin");
  try {
    await client.query(
      "create table if not exists ops.view_versions (name text primary key, hash text not null, applied_at timestamptz not null default now())",
    );
    for (const v of views) {
      await client.query(v.sql);
      await client.query(
        "insert into ops.view_versions (name, hash) values ($1, $2) on conflict (name) do update set hash = excluded.hash, applied_at = now()",
        [v.name, v.hash],
      );
    }
    await client.query("commit");
  } catch (e) {
    await client.query("rollback").catch(() => {});
    throw e;
  }
}

/**
 * Runs pending migrations on a dedicated client of `pool`; returns the names applied (none when the
 * schema is current). See the module header for the locking.
 * @throws MigrationLockTimeoutError when another process holds the migration lock past `lockWaitMs`.
 */
export async function migrate(
  pool: pg.Pool,
  dir: string = MIGRATIONS_DIR,
  opts: { lockWaitMs?: number; viewsDir?: string } = {},
): Promise<string[]> {
  const viewsDir = opts.viewsDir ?? VIEWS_DIR;
  if ((await pendingMigrations(pool, dir)).length === 0 && (await staleViews(pool, viewsDir)).length === 0)
    return [];
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
      // Roles are cluster-wide but the lock above is per database: databases migrating at once on one
      // server can both `alter role` and all but one get "tuple concurrently updated" (6 at once: 19 of
      // 24 failed). The whole run is one transaction that rolled back, so it is run again after a
      // jittered backoff.
      return await backOff(
        async () => {
          const applied = (await run()).map((m) => m.name);
          await applyViews(
            client,
            applied.length > 0 ? viewFiles(viewsDir) : await staleViews(client, viewsDir),
          );
          return applied;
        },
        {
          numOfAttempts: 10,
          startingDelay: 50,
          maxDelay: 2_000,
          jitter: "full",
          retry: (e: unknown) => /tuple concurrently (updated|deleted)/.test(String((e as Error).message)),
        },
      );
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
