/**
 * A fresh, migrated database per test file: a throw-away database on the server named by
 * DATABASE_URL when it is set (CI), an in-memory PGlite otherwise (a machine with Node only).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { type Database, openDatabase } from "#core/adapters/database.ts";
import { openEmbeddedDatabase } from "#core/adapters/embedded-database.ts";
import { migrate } from "#core/db/migrate.ts";

export interface TestDatabase extends Database {
  /** Drops the throw-away database (server) or stops PGlite. */
  destroy(): Promise<void>;
}

export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  let db: Database;
  let drop = async () => {};
  if (serverUrl) {
    const name = `wdo_test_${randomBytes(5).toString("hex")}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    db = openDatabase(url.toString());
    drop = async () => {
      const a = new pg.Client({ connectionString: serverUrl });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    };
  } else {
    db = await openEmbeddedDatabase();
  }
  if (opts.migrate !== false) await migrate(db.pool);
  return {
    ...db,
    async destroy() {
      await db.close();
      await drop();
    },
  };
}
