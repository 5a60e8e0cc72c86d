/**
 * Ports: what use cases need from the outside world. Adapters in `core/adapters` implement them for
 * S3, the local filesystem and Postgres; unit tests pass small in-memory fakes.
 */
import type { Interval } from "./domain/interval.ts";
import type { Observation, ProviderSource } from "./domain/observation.ts";
import type { Site } from "./domain/sites.ts";
import type { ProviderLimits, WeightedUsage } from "./providers/limits.ts";

/**
 * An append-only object store for raw responses: S3 in the cloud, a directory in the embedded
 * default. Raw is the immutable record that bronze rows point at and that replay rebuilds from, so
 * an object, once landed, is never replaced: `put` of an existing key fails with
 * `RawObjectExistsError` (adapters/raw-store-errors.ts) and keeps the first object. A put is atomic:
 * a crash leaves either the whole object or none under its key.
 */
export interface RawStore {
  /** Human-readable location, e.g. `s3://bucket/prefix` or `/abs/dir`. */
  readonly location: string;
  put(key: string, body: string): Promise<void>;
  /**
   * The object's text. With `maxBytes`, an object larger than that is refused with
   * `RawObjectTooLargeError` before its body is read, so a reader's memory stays bounded.
   */
  get(key: string, opts?: { maxBytes?: number }): Promise<string>;
  /** Keys under `prefix`, sorted ascending. */
  list(prefix: string): Promise<string[]>;
}

/**
 * What lands in the raw store for every HTTP response, errors included, before any parsing. Replays
 * parse only this, so it carries everything parsing needs — and never the API key.
 */
export interface RawEnvelope {
  version: 1;
  source: ProviderSource;
  /** The hour ingested; for a history request, the first hour of `range`. */
  interval: Interval;
  /**
   * Set on history requests only (core/use-cases/history.ts): the hours, both included, this request
   * asked for. Parsing keeps the hours inside it and drops the rest, so a replay needs nothing else.
   */
  range?: { from: Interval; to: Interval };
  batch: number;
  /** The sites this request asked for, in request order (Open-Meteo answers in the same order). */
  sites: Site[];
  /** Request URL with secrets removed. */
  url: string;
  status: number;
  /** Selected response headers (content-type, retry-after), secrets scrubbed. */
  headers: Record<string, string>;
  /** Which attempt produced this response (1-based). */
  attempt: number;
  fetchedAt: string;
  latencyMs: number;
  /**
   * The response body as received (text; may be malformed JSON), secrets scrubbed. When
   * `bodyTruncated`, only its first bytes (at most 64 KiB, and never a secret's beginning).
   */
  body: string;
  /** Set when no HTTP response arrived (timeout, connection refused). */
  networkError?: string;
  /**
   * Set when the body was longer than HTTP_MAX_BODY_BYTES: reading stopped and the request was
   * aborted. Such an envelope is not retried and parses as every site quarantined.
   */
  bodyTruncated?: true;
  /** With `bodyTruncated`: bytes received before reading stopped (more than `maxBodyBytes`). */
  bodyBytes?: number;
  /** With `bodyTruncated`: the HTTP_MAX_BODY_BYTES in force for this attempt. */
  maxBodyBytes?: number;
}

/** A site whose part of an envelope gave no observation: the request failed, or the payload broke its contract. */
export type SiteProblem =
  | { siteId: string; status: "failed"; reason: string }
  | { siteId: string; status: "quarantined"; reason: string; payload: unknown };

/** Per-site outcome of parsing one envelope. */
export type SiteParseResult = { siteId: string; status: "ok"; observation: Observation } | SiteProblem;

/**
 * Per-site outcome of parsing one history envelope: every hour of its range the provider had data
 * for (an hour with no value at all is left out, so coverage still shows it missing).
 */
export type SiteHistoryResult = { siteId: string; status: "ok"; observations: Observation[] } | SiteProblem;

/** Which of a provider's history endpoints serves a request (and so the kind of its observations). */
export type HistoryEndpoint = "forecast" | "archive";

/** A provider's hourly history (Open-Meteo and the simulator): how to ask for it and how to read it. */
export interface HistorySupport {
  /** The hourly variables every request asks for: the variables factor of the request weight. */
  readonly variables: readonly string[];
  /**
   * Hours from 00:00 UTC this many days before today on are served by the `forecast` endpoint,
   * older ones by `archive` (Open-Meteo: 92, the forecast API's `past_days` limit).
   */
  readonly recentDays: number;
  /** The request for `sites` over the hours [from, to] (both included) from `endpoint`. */
  request(
    sites: Site[],
    window: { from: Interval; to: Interval; endpoint: HistoryEndpoint },
  ): { url: string; redactedUrl: string };
  /** Pure, like `parse`: replays call it on stored envelopes and must get the same observations. */
  parse(envelope: RawEnvelope): SiteHistoryResult[];
}

/** One weather API behind the common port. */
export interface WeatherProvider {
  readonly source: ProviderSource;
  /** Sites per request (Open-Meteo batches many coordinates; OpenWeatherMap takes one). */
  readonly batchSize: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /**
   * The tier's quotas in weighted calls per minute, hour and day (free tier by default; a commercial
   * tier is a configuration change). See providers/limits.ts.
   */
  readonly limits: ProviderLimits;
  /** Weighted calls one current-conditions request for `sites` costs, as the provider counts them. */
  requestWeight(sites: readonly Site[]): number;
  /** Builds the request URL for one batch. `redact` leaves secrets out (for raw objects and logs). */
  url(sites: Site[], interval: Interval, opts?: { redact?: boolean }): string;
  /**
   * Turns one landed envelope into per-site results. Pure: replays call it on stored envelopes and
   * must get the same observations.
   */
  parse(envelope: RawEnvelope): SiteParseResult[];
  /** Past hours in bulk (core/use-cases/history.ts); absent when the provider serves "now" only. */
  readonly history?: HistorySupport;
}

/** One ingestion run's bookkeeping row (ops.ingestion_runs). */
export interface IngestionRunRecord {
  runId: string;
  source: ProviderSource;
  /** The hour of an ingestion run; a history run's range label `<from>..<to>` (history.ts). */
  interval: Interval | string;
  startedAt: Date;
  finishedAt?: Date;
  status: "running" | "succeeded" | "failed";
  sitesTotal: number;
  sitesOk: number;
  sitesFailed: number;
  sitesQuarantined: number;
  observationsLoaded: number;
  fetchLatencyP50Ms: number | null;
  fetchLatencyP95Ms: number | null;
  rawObjectKeys: string[];
  error?: string | null;
  /**
   * Weighted calls this attempt made (retries included), added to the ledger's count by `finishRun`:
   * other processes read it back through {@link BronzeRepository.weightedCallsSince}.
   */
  weightedCalls?: number;
}

export interface SiteOutcome {
  siteId: string;
  status: "ok" | "failed" | "quarantined";
  reason: string | null;
  rawObjectKey: string | null;
}

/**
 * A site's payload that broke its contract (or its clock). The body lives once in the raw object
 * `rawObjectKey`; the entry keeps only a bounded excerpt, so one huge body never multiplies per site.
 */
export interface QuarantineEntry {
  source: ProviderSource;
  /** The hour ingested; for a history envelope, its range label `<from>..<to>`. */
  interval: Interval | string;
  siteId: string;
  rawObjectKey: string;
  reason: string;
  /** At most 2 KB (UTF-8) of the offending payload: see `bodyExcerpt` in providers/http.ts. */
  excerpt: string;
  ingestionRunId: string;
  quarantinedAt: Date;
}

/** A bronze row: the canonical observation plus its audit columns. */
export interface BronzeRow extends Observation {
  ingestionRunId: string;
  ingestedAt: Date;
  rawObjectKey: string;
}

/** Where ingestion writes: bronze rows, quarantine, the run ledger and the site dimension. */
export interface BronzeRepository {
  /** Upserts the configured sites into the site dimension gold joins for names and coordinates. */
  upsertSites(sites: readonly Site[]): Promise<void>;
  /**
   * Idempotent upsert on (site_id, source, observed_at, kind): a live reading and a history value of
   * the same instant are two rows (silver picks one by precedence). A row whose payload is unchanged
   * is left untouched. Returns rows inserted or changed.
   */
  upsertObservations(rows: BronzeRow[]): Promise<number>;
  quarantine(entries: QuarantineEntry[]): Promise<void>;
  startRun(run: IngestionRunRecord): Promise<void>;
  finishRun(run: IngestionRunRecord, sites: SiteOutcome[]): Promise<void>;
  /**
   * Weighted calls recorded for `source` by runs that finished at or after `since`, one entry per run
   * at its finish (the latest instant its calls can have been made): seeds a new run's limiter, so
   * Lambdas and CLI runs sharing one database respect the day quota together.
   */
  weightedCallsSince(source: ProviderSource, since: Date): Promise<WeightedUsage[]>;
}
