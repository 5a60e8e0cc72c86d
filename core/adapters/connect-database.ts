/** Finds the database a runtime is configured for: DATABASE_URL, else the secret, else the embedded default. */
import type { Config } from "../config/env.ts";
import { ConfigError } from "../config/env.ts";
import { configErrorFor } from "../db/errors.ts";
import { type Database, openDatabase, type SessionSettings } from "./database.ts";
import { readSecret } from "./secrets.ts";

export interface ConnectOptions {
  max?: number;
  /** Opens the embedded database when no URL or secret is configured (the CLI passes PGlite). */
  embedded?: (dataDir: string, opts: { settings: SessionSettings }) => Promise<Database>;
}

/** The DB_* settings of `config` as session settings. */
export function sessionSettingsFrom(config: Config): SessionSettings {
  return {
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: config.DB_LOCK_TIMEOUT_MS,
    runLeaseMs: config.DB_RUN_LEASE_MS,
    taskLeaseMs: config.DB_TASK_LEASE_MS,
  };
}

/**
 * Opens the configured database and probes it with one query (bounded by DB_CONNECT_TIMEOUT_MS),
 * so a wrong URL fails here, at startup, with a message that says what to fix — not mid-run.
 * @throws DatabaseConfigError (its subclass DatabaseUnreachableError when nothing answered) naming
 *   DATABASE_URL / --db or the secret; the password is never shown.
 */
export async function connectDatabase(config: Config, opts: ConnectOptions = {}): Promise<Database> {
  const settings = sessionSettingsFrom(config);
  const fromSecret = !config.DATABASE_URL && config.DATABASE_SECRET_ARN;
  const url =
    config.DATABASE_URL ??
    (config.DATABASE_SECRET_ARN ? await readSecret(config, config.DATABASE_SECRET_ARN, "url") : undefined);
  if (url) {
    const db = openDatabase(url, { max: opts.max, settings });
    try {
      // A URL can lead to a PGlite too (`weather invoke` hands a handler the embedded one's loopback
      // URL): it is one session without COPY, so it is treated as embedded whatever the way in.
      const { rows } = await db.pool.query<{ version: string }>("select version() as version");
      if (/\bPGlite\b/.test(rows[0]?.version ?? "")) return { ...db, embedded: true };
    } catch (e) {
      await db.close().catch(() => {});
      const source = fromSecret
        ? `secret DATABASE_SECRET_ARN=${config.DATABASE_SECRET_ARN}`
        : "DATABASE_URL / --db";
      throw configErrorFor(e, url, source, settings.connectTimeoutMs);
    }
    return db;
  }
  if (opts.embedded) return opts.embedded(`${config.WEATHER_HOME}/pg`, { settings });
  throw new ConfigError("No database configured: set DATABASE_URL or DATABASE_SECRET_ARN.");
}
