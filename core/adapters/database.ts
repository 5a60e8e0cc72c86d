/**
 * One `pg` code path for every runtime: a real Postgres by URL here, or the embedded PGlite served
 * over the wire protocol (see embedded-database.ts) — callers see the same {@link Database}.
 *
 * Every pool made here (see {@link guardPool}):
 * - listens for 'error' on the pool AND on every client, idle or checked out: a client whose backend
 *   is terminated emits 'error', and an unheard 'error' event kills the process;
 * - names connection loss: queries on its clients reject with DatabaseUnavailableError, so the
 *   state machine's Retry and the DbErrors metric see one name;
 * - bounds every session: `lock_timeout`, `statement_timeout` and the connect timeout.
 */
import pg from "pg";
import { asDatabaseError } from "../db/errors.ts";
import type { Log } from "../observability/logger.ts";

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

/** Per-session bounds and leases; see DB_* in core/config/env.ts for what each means. */
export interface SessionSettings {
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  /** Read by SQL as `current_setting('wdo.run_lease_ms')` (core/db/leases.ts). */
  runLeaseMs: number;
  /** Read by SQL as `current_setting('wdo.task_lease_ms')`. */
  taskLeaseMs: number;
}

/** The defaults of core/config/env.ts, for callers without a Config (tests, scripts). */
export const DEFAULT_SESSION_SETTINGS: SessionSettings = {
  connectTimeoutMs: 10_000,
  statementTimeoutMs: 600_000,
  lockTimeoutMs: 60_000,
  runLeaseMs: 120_000,
  taskLeaseMs: 900_000,
};

/** The session parameters every connection sets, as name → value. */
export function sessionParameters(s: SessionSettings): Record<string, string> {
  return {
    statement_timeout: String(s.statementTimeoutMs),
    lock_timeout: String(s.lockTimeoutMs),
    "wdo.run_lease_ms": String(s.runLeaseMs),
    "wdo.task_lease_ms": String(s.taskLeaseMs),
  };
}

// Where the process reports connection errors nobody awaits (an idle client's server went away).
const stderrLog: Pick<Log, "warn"> = {
  warn: (message, ...attributes) =>
    process.stderr.write(
      `${JSON.stringify({ level: "WARN", message, ...Object.assign({}, ...attributes) })}\n`,
    ),
};

/**
 * Forwards a pg call (promise or callback form) with connection-loss errors renamed to
 * DatabaseUnavailableError; `onLoss` runs first for such errors.
 */
// biome-ignore lint/suspicious/noExplicitAny: pg's query/connect have a dozen overloads; this forwards them all
function naming(base: (...a: any[]) => any, onLoss?: (self: any) => void) {
  // biome-ignore lint/suspicious/noExplicitAny: see above
  return function named(this: unknown, ...args: any[]) {
    const rename = (e: unknown) => {
      const named = asDatabaseError(e);
      if (named !== e) onLoss?.(this);
      return named;
    };
    const last = args.length > 0 ? args[args.length - 1] : undefined;
    if (typeof last === "function") {
      args[args.length - 1] = (err: unknown, ...rest: unknown[]) => last(err ? rename(err) : err, ...rest);
      return base.apply(this, args);
    }
    const result = base.apply(this, args);
    return result instanceof Promise
      ? result.catch((e: unknown) => {
          throw rename(e);
        })
      : result;
  };
}

/**
 * A pg Client whose query failures caused by a lost connection reject with
 * DatabaseUnavailableError (other errors pass unchanged). After such a failure the client is marked
 * unusable (pg-pool's own `_queryable` flag), so releasing it discards it: the server's 57P01
 * message arrives before the socket closes, and a pool must not hand the dying client out again.
 */
class NamedErrorsClient extends pg.Client {}
Object.defineProperty(NamedErrorsClient.prototype, "query", {
  value: naming(pg.Client.prototype.query, (client: { _queryable: boolean }) => {
    client._queryable = false;
  }),
  writable: true,
  configurable: true,
});

/** The Client class every pool here uses (exported for pools built elsewhere, e.g. tests). */
export const Client: typeof pg.Client = NamedErrorsClient;

/**
 * A pool whose `connect` and `query` failures caused by a lost or unreachable server reject with
 * DatabaseUnavailableError (pg-pool reports a client's 'error' event to `query` directly, and
 * after a restart the first reconnect attempts are refused).
 */
export class Pool extends pg.Pool {}
for (const method of ["connect", "query"] as const)
  Object.defineProperty(Pool.prototype, method, {
    value: naming(pg.Pool.prototype[method]),
    writable: true,
    configurable: true,
  });

/**
 * Attaches the error listeners described in the module header to `pool`. Without the per-client
 * listener, `pg_terminate_backend` on a checked-out client crashes the process with
 * "Unhandled 'error' event"; with it, the running query rejects and the pool discards the client.
 */
export function guardPool(pool: pg.Pool, log: Pick<Log, "warn"> = stderrLog): pg.Pool {
  pool.on("error", (e) =>
    log.warn("idle database connection lost; the pool reconnects on next use", { error: e.message }),
  );
  pool.on("connect", (client) => {
    client.on("error", (e) => log.warn("database connection lost", { error: e.message }));
  });
  return pool;
}

/** Opens a pool on a Postgres server. Callers own the result and must `close()` it. */
export function openDatabase(
  url: string,
  opts: { max?: number; settings?: Partial<SessionSettings>; log?: Pick<Log, "warn"> } = {},
): Database {
  const settings = { ...DEFAULT_SESSION_SETTINGS, ...opts.settings };
  const options = Object.entries(sessionParameters(settings))
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(" ");
  const pool = new Pool({
    connectionString: url,
    max: opts.max ?? 4,
    Client: NamedErrorsClient,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    // Startup parameters, not SET statements: they hold from the first query, and RESET returns to them.
    options,
  });
  guardPool(pool, opts.log);
  return { pool, url, embedded: false, close: () => pool.end() };
}
