/** Finds the database a runtime is configured for: DATABASE_URL, else the secret, else the embedded default. */
import type { Config } from "../config/env.ts";
import { ConfigError } from "../config/env.ts";
import { type Database, openDatabase } from "./database.ts";
import { readSecret } from "./secrets.ts";

export interface ConnectOptions {
  max?: number;
  /** Opens the embedded database when no URL or secret is configured (the CLI passes PGlite). */
  embedded?: (dataDir: string) => Promise<Database>;
}

export async function connectDatabase(config: Config, opts: ConnectOptions = {}): Promise<Database> {
  const url =
    config.DATABASE_URL ??
    (config.DATABASE_SECRET_ARN ? await readSecret(config, config.DATABASE_SECRET_ARN, "url") : undefined);
  if (url) return openDatabase(url, { max: opts.max });
  if (opts.embedded) return opts.embedded(`${config.WEATHER_HOME}/pg`);
  throw new ConfigError("No database configured: set DATABASE_URL or DATABASE_SECRET_ARN.");
}
