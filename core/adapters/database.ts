/**
 * One `pg` code path for every runtime: a real Postgres by URL here, or the embedded PGlite served
 * over the wire protocol (see embedded-database.ts) — callers see the same {@link Database}.
 */
import pg from "pg";

// bigint (count(*)) and numeric come back as strings by default; our counts fit in a double, and
// numeric results are rounded in SQL.
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

/** Opens a pool on a Postgres server. Callers own the result and must `close()` it. */
export function openDatabase(url: string, opts: { max?: number } = {}): Database {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 4 });
  // An idle client whose server went away (a restart, a failover) emits 'error'; unhandled, that
  // would crash a warm Lambda. The pool drops the client and the next query reconnects.
  pool.on("error", () => {});
  return { pool, url, embedded: false, close: () => pool.end() };
}
