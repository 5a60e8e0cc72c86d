/**
 * Applies `sql/migrations/*.sql` with node-pg-migrate. It takes a Postgres advisory lock, so
 * concurrent starts (two Lambdas, a CLI and a test) apply each migration exactly once.
 */
import { fileURLToPath } from "node:url";
import { runner } from "node-pg-migrate";
import type pg from "pg";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../sql/migrations", import.meta.url));

/** Runs pending migrations on a dedicated client of `pool`; returns the names applied. */
export async function migrate(pool: pg.Pool, dir: string = MIGRATIONS_DIR): Promise<string[]> {
  const client = await pool.connect();
  try {
    const applied = await runner({
      dbClient: client,
      dir,
      direction: "up",
      migrationsTable: "schema_migrations",
      migrationsSchema: "ops",
      createMigrationsSchema: true,
      checkOrder: true,
      singleTransaction: true,
      log: () => {},
      logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    });
    return applied.map((m) => m.name);
  } finally {
    client.release();
  }
}
