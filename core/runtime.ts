/**
 * The composition root: turns a validated {@link Config} into the adapters use cases need. The CLI
 * and every Lambda handler build their dependencies here, so all three runtimes wire the same way.
 */
import { join } from "node:path";
import { readSecret, s3Client } from "./adapters/aws.ts";
import { type Database, openDatabase } from "./adapters/database.ts";
import { fsRawStore } from "./adapters/fs-raw-store.ts";
import { pgBronzeRepository } from "./adapters/pg-bronze-repository.ts";
import { s3RawStore } from "./adapters/s3-raw-store.ts";
import { type Config, ConfigError, rawStoreLocation } from "./config/env.ts";
import type { ProviderSource } from "./domain/observation.ts";
import type { BronzeRepository, RawStore, WeatherProvider } from "./ports.ts";
import { createProvider, MissingApiKeyError } from "./providers/index.ts";

export interface ConnectOptions {
  max?: number;
  /** Opens the embedded database when no URL or secret is configured (the CLI passes PGlite). */
  embedded?: (dataDir: string) => Promise<Database>;
}

/** Resolves the database: DATABASE_URL, else the secret, else the embedded default if one is given. */
export async function connectDatabase(config: Config, opts: ConnectOptions = {}): Promise<Database> {
  const url =
    config.DATABASE_URL ??
    (config.DATABASE_SECRET_ARN ? await readSecret(config, config.DATABASE_SECRET_ARN, "url") : undefined);
  if (url) return openDatabase(url, { max: opts.max });
  if (opts.embedded) return opts.embedded(join(config.WEATHER_HOME, "pg"));
  throw new ConfigError("No database configured: set DATABASE_URL or DATABASE_SECRET_ARN.");
}

export function rawStoreFor(config: Config): RawStore {
  const location = rawStoreLocation(config);
  return location.startsWith("s3://") ? s3RawStore(s3Client(config), location) : fsRawStore(location);
}

/** The provider for a source; the OpenWeatherMap key comes from the env locally, Secrets Manager in the cloud. */
export async function providerFor(config: Config, source: ProviderSource): Promise<WeatherProvider> {
  if (source !== "openweather") return createProvider(config, source);
  const apiKey =
    config.OPENWEATHER_API_KEY ??
    (config.OPENWEATHER_SECRET_ARN ? await readSecret(config, config.OPENWEATHER_SECRET_ARN) : undefined);
  if (!apiKey) throw new MissingApiKeyError();
  return createProvider(config, source, { apiKey });
}

export interface Runtime {
  config: Config;
  db: Database;
  rawStore: RawStore;
  bronze: BronzeRepository;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, opts: ConnectOptions = {}): Promise<Runtime> {
  const db = await connectDatabase(config, opts);
  return {
    config,
    db,
    rawStore: rawStoreFor(config),
    bronze: pgBronzeRepository(db.pool, { copy: !db.embedded }),
    close: () => db.close(),
  };
}
