/**
 * Fault: concurrent starts (issue 10, item 5). node-pg-migrate's lock in mode `fail` made one of two
 * concurrent `weather status` exit 1. Now a current schema takes no migration lock at all, and
 * pending migrations wait (bounded) for the lock instead of failing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "#core/adapters/database.ts";
import { MigrationLockTimeoutError, migrate, migrationNames } from "#core/db/migrate.ts";
import { weather } from "./support/cli.ts";
import { type PrivatePostgres, startPrivatePostgres } from "./support/private-postgres.ts";

// node-pg-migrate's well-known advisory lock id (PG_MIGRATE_LOCK_ID).
const MIGRATION_LOCK = "7241865325823964";

let server: PrivatePostgres;

beforeAll(async () => {
  server = await startPrivatePostgres();
});
afterAll(async () => {
  await server?.destroy();
});

async function statusPair(url: string) {
  return Promise.all([0, 1].map(() => weather(["status", "--db", url, "--json"])));
}

describe("concurrent starts", () => {
  it("two `weather status` at once on a fresh database both exit 0 and migrate once (5 pairs)", async () => {
    for (let i = 0; i < 5; i++) {
      // Prepare
      const name = `fresh_${i}`;
      const url = await server.createDatabase(name);
      // Act
      const pair = await statusPair(url);
      // Assess
      expect(
        pair.map((r) => r.code),
        pair.map((r) => r.stderr).join("\n"),
      ).toEqual([0, 0]);
      const applied = await server.query("select name from ops.schema_migrations order by id", [], name);
      expect(applied.rows.map((r) => r.name)).toEqual(migrationNames());
    }
  });

  it("on a current schema, starts take no migration lock: they succeed while another session holds it", async () => {
    // Prepare
    const url = await server.createDatabase("current");
    expect((await weather(["migrate", "--db", url])).code).toBe(0);
    const holder = openDatabase(url, { max: 1 });
    const client = await holder.pool.connect();
    await client.query("select pg_advisory_lock($1::bigint)", [MIGRATION_LOCK]);
    try {
      // Act
      const pairs = [await statusPair(url), await statusPair(url)].flat();
      // Assess
      expect(pairs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    } finally {
      client.release();
      await holder.close();
    }
  });

  it("with migrations pending, waits for the lock and gives up after the bound with a named error", async () => {
    // Prepare
    const url = await server.createDatabase("pending");
    const holder = openDatabase(url, { max: 1 });
    const client = await holder.pool.connect();
    await client.query("select pg_advisory_lock($1::bigint)", [MIGRATION_LOCK]);
    const db = openDatabase(url);
    try {
      // Act + Assess: bounded wait.
      await expect(migrate(db.pool, undefined, { lockWaitMs: 300 })).rejects.toBeInstanceOf(
        MigrationLockTimeoutError,
      );
      // Act + Assess: once the holder lets go, a waiting start migrates.
      const waiting = migrate(db.pool, undefined, { lockWaitMs: 60_000 });
      await client.query("select pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK]);
      expect(await waiting).toEqual(migrationNames());
    } finally {
      client.release();
      await holder.close();
      await db.close();
    }
  });
});
