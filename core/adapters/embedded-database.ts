/**
 * The embedded default: PGlite (Postgres compiled to WebAssembly) persisted on disk and served over
 * the wire protocol on a loopback port, so the same `pg` code path serves it. Kept apart from
 * database.ts so Lambda bundles never include PGlite.
 */
import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";
import type { Database } from "./database.ts";

/** Starts PGlite (on `dataDir`, or in memory when absent). Callers must `close()` the result. */
export async function openEmbeddedDatabase(dataDir?: string): Promise<Database> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const db = dataDir ? await PGlite.create({ dataDir }) : await PGlite.create();
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 4 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres?sslmode=disable`;
  // PGlite is a single session: a transaction on one client blocks all others, so the pool holds one.
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  return {
    pool,
    url,
    embedded: true,
    close: async () => {
      await pool.end();
      await server.stop();
      await db.close();
    },
  };
}
