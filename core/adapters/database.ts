/**
 * One `pg` code path for every runtime: a real Postgres by URL, or the embedded default — PGlite
 * persisted on disk and served over the wire protocol on a loopback port.
 */
import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";

// bigint (count(*), identity columns) and numeric come back as strings by default; our counts fit
// in a double, and numeric results are rounded in SQL.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));

export interface Database {
  pool: pg.Pool;
  /** A connection string clients outside this process can use (embedded: a loopback port). */
  url: string;
  /** True for PGlite: one session, so callers must never interleave transactions. */
  embedded: boolean;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A Postgres URL; when absent the embedded PGlite is used. */
  url?: string | undefined;
  /** Embedded only: data directory (absent = in memory, for tests). */
  dataDir?: string | undefined;
  /** Pool size for a real server. */
  max?: number;
}

/** Opens the database the options name. Callers own the result and must `close()` it. */
export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  if (opts.url) {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.max ?? 4 });
    return { pool, url: opts.url, embedded: false, close: () => pool.end() };
  }
  if (opts.dataDir) await mkdir(opts.dataDir, { recursive: true });
  const db = opts.dataDir ? await PGlite.create({ dataDir: opts.dataDir }) : await PGlite.create();
  // PGlite is a single session: a transaction on one client blocks all others, so serve one client
  // and keep the pool at one connection.
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 4 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres?sslmode=disable`;
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
