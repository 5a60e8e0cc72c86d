/**
 * A private Postgres 15 for fault tests: its own data directory, socket directory and free loopback
 * port, so a test can kill, stop and restart it without touching the machine's server on 5432.
 *
 * Postgres refuses to run as root, so every server command runs as the `postgres` OS user
 * (`runuser -u postgres --` when the tests run as root). The cluster trusts local connections:
 * connect as role `postgres` without a password.
 *
 * ```ts
 * const pg = await startPrivatePostgres();
 * try {
 *   const url = await pg.createDatabase("wdo_fault");
 *   await pg.stop("immediate"); // every backend dies at once, as in a crash
 *   await pg.start();           // same port, same data
 * } finally {
 *   await pg.destroy();         // stops the server and deletes its directories
 * }
 * ```
 */
import { execFile, execFileSync } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

/** Where Debian's postgresql-15 package puts the server binaries. */
export const PG_BIN = "/usr/lib/postgresql/15/bin";

/** How `pg_ctl stop` stops the server (see `pg_ctl --help`). */
export type StopMode = "smart" | "fast" | "immediate";

export interface PrivatePostgres {
  /** The loopback port the server listens on (stable across stop/start). */
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres`: the maintenance database. */
  readonly url: string;
  /** The connection URL of database `name` on this server. */
  urlOf(name: string): string;
  /** Creates database `name` (dropping an old one of that name) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /**
   * Stops the server. `immediate` is the fault: every backend is killed without a checkpoint and
   * clients see `Connection terminated unexpectedly` (SQLSTATE 57P01/57P02 or a bare socket close).
   */
  stop(mode?: StopMode): Promise<void>;
  /** Starts the server again on the same port and data directory; resolves once it accepts connections. */
  start(): Promise<void>;
  /**
   * Terminates backends (`pg_terminate_backend`) of database `dbName` whose current query matches
   * the SQL `like` pattern (case-insensitive), except the caller's own; returns the pids terminated.
   */
  terminateBackends(dbName: string, queryLike?: string): Promise<number[]>;
  /** Runs one statement on database `dbName` (default `postgres`) on a short-lived connection. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    dbName?: string,
  ): Promise<pg.QueryResult<R>>;
  /** Stops the server (immediately) and deletes its data and socket directories. Idempotent. */
  destroy(): Promise<void>;
}

/** The command line running a server binary as the `postgres` OS user (directly when not root). */
function postgresCommand(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? ["runuser", ["-u", "postgres", "--", join(PG_BIN, bin), ...args]]
    : [join(PG_BIN, bin), args];
}

async function asPostgres(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const [cmd, argv] = postgresCommand(bin, args);
  return run(cmd, argv, { timeout: 120_000 });
}

/** A port nothing listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Initialises and starts a throw-away Postgres 15 cluster on a free loopback port. Call
 * {@link PrivatePostgres.destroy} in `afterAll` (it also runs on process exit as a last resort).
 * @param opts.settings extra `postgresql.conf` settings passed as `-c name=value` (e.g. `{ fsync: "off" }`).
 */
export async function startPrivatePostgres(
  opts: { settings?: Record<string, string> } = {},
): Promise<PrivatePostgres> {
  const root = await mkdtemp(join(tmpdir(), "wdo-pg-"));
  // The postgres user must reach the directory; mkdtemp creates it 0700 for root.
  await chmod(root, 0o777);
  const dataDir = join(root, "data");
  const socketDir = root;
  const logFile = join(root, "server.log");
  const port = await freePort();
  // fsync off: a killed server loses nothing the OS already holds (only a machine crash would), and the
  // disk is shared with other agents. synchronous_commit stays on: an immediate stop must not lose
  // transactions the client saw commit.
  const settings = { fsync: "off", full_page_writes: "off", ...opts.settings };
  const serverOpts = [
    `-p ${port}`,
    `-k ${socketDir}`,
    "-c listen_addresses=127.0.0.1",
    ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
  ].join(" ");

  await asPostgres("initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const urlOf = (name: string) => `postgres://postgres@127.0.0.1:${port}/${name}`;

  let running = false;
  let destroyed = false;
  const start = async () => {
    // -w waits until the server accepts connections (or fails with the log's reason).
    await asPostgres("pg_ctl", ["-D", dataDir, "-l", logFile, "-o", serverOpts, "-w", "-t", "60", "start"]);
    running = true;
  };
  const stop = async (mode: StopMode = "fast") => {
    if (!running) return;
    await asPostgres("pg_ctl", ["-D", dataDir, "-m", mode, "-w", "-t", "60", "stop"]);
    running = false;
  };
  const query = async <R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    dbName = "postgres",
  ) => {
    const client = new pg.Client({ connectionString: urlOf(dbName) });
    client.on("error", () => {}); // the server may be killed under this client by the test
    await client.connect();
    try {
      return await client.query<R>(sql, params);
    } finally {
      await client.end().catch(() => {});
    }
  };
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    process.off("exit", onExit);
    await stop("immediate").catch(() => {});
    await rm(root, { recursive: true, force: true });
  };
  // Last resort when a test run is interrupted: never leave a server running on the machine.
  const onExit = () => {
    if (!running) return;
    try {
      execFileSync(...postgresCommand("pg_ctl", ["-D", dataDir, "-m", "immediate", "stop"]));
    } catch {
      // nothing more can be done while exiting
    }
  };
  process.on("exit", onExit);

  try {
    await start();
  } catch (e) {
    await destroy();
    throw e;
  }

  return {
    port,
    url,
    urlOf,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      await query(`drop database if exists ${name} with (force)`);
      await query(`create database ${name}`);
      return urlOf(name);
    },
    stop,
    start,
    async terminateBackends(dbName, queryLike = "%") {
      const { rows } = await query<{ pid: number }>(
        `select pid from pg_stat_activity
         where datname = $1 and pid <> pg_backend_pid() and query ilike $2 and pg_terminate_backend(pid)`,
        [dbName, queryLike],
      );
      return rows.map((r) => r.pid);
    },
    query,
    destroy,
  };
}
