/**
 * Named database errors. The driver reports a lost connection in a dozen shapes (socket codes,
 * SQLSTATE 57P0x/08xxx, bare "Connection terminated" messages); the state machine's Retry, the
 * CLI's exit codes and the DbErrors metric need one name for each meaning:
 *
 * - {@link DatabaseUnavailableError}: the connection was lost or refused mid-run. Transient: the step
 *   fails and is retried (every step is idempotent). CLI exit 1.
 * - {@link DatabaseConfigError}: the startup probe could not use the configured database at all
 *   (wrong role, password, database, a server that is not Postgres). CLI exit 2.
 * - {@link DatabaseUnreachableError}: a {@link DatabaseConfigError} whose cause may be transient
 *   (refused, timed out, reset). CLI exit 2 like its parent, but its own name, so a state machine
 *   may retry it while not retrying DatabaseConfigError.
 */

/** SQLSTATEs and socket codes that mean "the connection is gone or cannot be made right now". */
const UNAVAILABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "57P01", // admin_shutdown: pg_terminate_backend, or a fast/immediate shutdown
  "57P02", // crash_shutdown: another backend crashed, the server restarts
  "57P03", // cannot_connect_now: the server is starting up or in recovery
  "53300", // too_many_connections
]);

/** Driver messages without a code for the same condition (pg and pg-pool). */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /is not queryable/, // a client whose socket already died
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
];

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** True when `error` means the database connection was lost or could not be made (transient). */
export function isConnectionLoss(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = errorCode(error);
  if (code && (UNAVAILABLE_CODES.has(code) || code.startsWith("08"))) return true;
  return UNAVAILABLE_MESSAGES.some((re) => re.test(error.message));
}

/**
 * The connection to the database was lost (backend terminated, server restarted, network) or could
 * not be re-established. The step failed as a whole and is safe to retry; its run is marked failed
 * (or, if even that write failed, shows as abandoned once its lease expires).
 */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
  /** The driver's SQLSTATE or socket code, when it gave one. */
  readonly code: string | undefined;

  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const code = errorCode(cause);
    super(
      `Lost the connection to the database (${detail}${code ? `, ${code}` : ""}). The step failed and is ` +
        "safe to retry; if this persists, check that Postgres is up and reachable at DATABASE_URL.",
      { cause },
    );
    this.code = code;
  }
}

/** The configured database cannot be used; the message names DATABASE_URL / --db and what to fix. */
export class DatabaseConfigError extends Error {
  override name = "DatabaseConfigError";
}

/** The configured database did not answer (refused, timed out, reset): see {@link DatabaseConfigError}. */
export class DatabaseUnreachableError extends DatabaseConfigError {
  override name = "DatabaseUnreachableError";
}

/**
 * Returns {@link DatabaseUnavailableError} for a connection-loss error (keeping it as `cause`), and
 * any other error unchanged — constraint violations, lock and statement timeouts keep their own
 * SQLSTATE and message.
 */
export function asDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError || !isConnectionLoss(error)) return error;
  return new DatabaseUnavailableError(error);
}

/** True for every error this module names: what the DbErrors metric counts. */
export function isDatabaseError(error: unknown): boolean {
  return error instanceof DatabaseUnavailableError || error instanceof DatabaseConfigError;
}

/** The URL with its password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(an unparsable URL)";
  }
}

/**
 * Translates a failed startup probe of `url` into a {@link DatabaseConfigError} that says what to
 * fix. `source` names where the URL came from (e.g. "DATABASE_URL / --db").
 */
export function configErrorFor(
  probeError: unknown,
  url: string,
  source: string,
  connectTimeoutMs: number,
): DatabaseConfigError {
  const error = probeError instanceof DatabaseUnavailableError ? probeError.cause : probeError;
  const shown = redactUrl(url);
  let host = "the server";
  let role = "";
  let database = "";
  try {
    const u = new URL(url);
    host = `${u.hostname}:${u.port || "5432"}`;
    role = decodeURIComponent(u.username);
    database = decodeURIComponent(u.pathname.slice(1));
  } catch {
    // an unparsable URL is reported below with the driver's own words
  }
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  const where = `the database at ${shown} (${source})`;
  switch (code) {
    case "ECONNREFUSED":
      return new DatabaseUnreachableError(
        `Cannot connect to ${where}: connection refused at ${host}. Is Postgres running, and are the host and port right?`,
        { cause: error },
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new DatabaseConfigError(`Cannot connect to ${where}: host not found. Fix the host name.`, {
        cause: error,
      });
    case "28P01":
    case "28000":
      return new DatabaseConfigError(
        `Cannot connect to ${where}: authentication failed for role "${role}" (${detail}). Fix the user name ` +
          "or password in the URL, or the server's pg_hba.conf.",
        { cause: error },
      );
    case "3D000":
      return new DatabaseConfigError(
        `Cannot connect to ${where}: database "${database}" does not exist. Create it (createdb ${database}) or fix the name.`,
        { cause: error },
      );
  }
  if (/timeout/i.test(detail) || code === "ETIMEDOUT")
    return new DatabaseUnreachableError(
      `Cannot connect to ${where}: no answer from ${host} within ${connectTimeoutMs} ms (DB_CONNECT_TIMEOUT_MS). ` +
        "Is the host reachable, and is it a Postgres server?",
      { cause: error },
    );
  if (/^Connection terminated/.test(detail) || code === "ECONNRESET")
    return new DatabaseUnreachableError(
      `Cannot connect to ${where}: ${host} closed the connection during the startup handshake. Is it a ` +
        "Postgres server (not, say, an HTTP port), and is it accepting connections?",
      { cause: error },
    );
  if (isConnectionLoss(error))
    return new DatabaseUnreachableError(`Cannot connect to ${where}: ${detail}. Is Postgres up?`, {
      cause: error,
    });
  return new DatabaseConfigError(`Cannot use ${where}: ${detail}${code ? ` (${code})` : ""}.`, {
    cause: error,
  });
}

/**
 * Runs a ledger write (marking a run failed or finished) and, while the database is unavailable,
 * tries again until `deadlineMs` has passed: a restart that takes a second must not leave a run
 * `running`. Other errors, and the last unavailable one, are thrown.
 */
export async function retryWhileUnavailable<T>(
  write: () => Promise<T>,
  opts: { deadlineMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.deadlineMs ?? LEDGER_RETRY_MS);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await write();
    } catch (e) {
      if (!isConnectionLoss(e) || Date.now() + delay > deadline) throw e;
      await sleep(delay);
    }
  }
}

/** How long a ledger write keeps trying through a database outage (a restart takes seconds). */
export const LEDGER_RETRY_MS = 15_000;
