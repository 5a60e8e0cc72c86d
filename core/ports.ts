/**
 * Ports: what use cases need from the outside world. Adapters in `core/adapters` implement them for
 * S3, the local filesystem and Postgres; unit tests pass small in-memory fakes.
 */
import type { BronzeBatch, Month } from "./domain/bronze-archive.ts";
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
  /** `put` for binary objects (Parquet archives): the same append-only, atomic contract. */
  putBytes(key: string, body: Uint8Array): Promise<void>;
  /** The object's bytes, as they were put; `maxBytes` as for `get`. */
  getBytes(key: string, opts?: { maxBytes?: number }): Promise<Uint8Array>;
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
  /**
   * Upserts that may run at once on distinct connections (absent: 1). The embedded PGlite is one
   * session, so 1 there; a server takes a few, each on its own core.
   */
  readonly maxConcurrentWrites?: number;
  quarantine(entries: QuarantineEntry[]): Promise<void>;
  startRun(run: IngestionRunRecord): Promise<void>;
  finishRun(run: IngestionRunRecord, sites: SiteOutcome[]): Promise<void>;
  /**
   * Sharded runs (core/use-cases/shards.ts): renews the lease of a run another invocation opened
   * while a shard works on it; throws when the run is not running. Stop the returned heartbeat.
   */
  leaseRun(runId: string): Promise<{ stop(): Promise<void> }>;
  /**
   * Sharded runs: upserts site outcomes into a run and adds raw keys and weighted calls to it; its
   * status and counts are left to the completion ({@link finishRun}).
   */
  recordShard(
    runId: string,
    sites: SiteOutcome[],
    extra: { rawObjectKeys: string[]; weightedCalls: number },
  ): Promise<void>;
  /** The run's site outcomes counted (what {@link finishRun} will record). */
  runCounts(
    runId: string,
  ): Promise<{ sitesTotal: number; sitesOk: number; sitesFailed: number; sitesQuarantined: number }>;
  /**
   * Weighted calls recorded for `source` by runs that finished at or after `since`, one entry per run
   * at its finish (the latest instant its calls can have been made): seeds a new run's limiter, so
   * Lambdas and CLI runs sharing one database respect the day quota together.
   */
  weightedCallsSince(source: ProviderSource, since: Date): Promise<WeightedUsage[]>;
}

/** A layer the SQL models build (the same as core/sql/files.ts `Layer`). */
export type ModelLayer = "silver" | "gold";

/** Scope of a transform run (core/sql/runner.ts): an hour's changes, a whole rebuild, or a range. */
export type TransformRunMode = "incremental" | "full" | "range";

/** A transform run as ops.transform_runs records it when it starts. */
export interface TransformRunStart {
  layer: ModelLayer;
  interval: Interval;
  mode: TransformRunMode;
  lookbackHours: number;
  windowStart: Date;
  windowEnd: Date;
  /** Range runs only: what started them (a backfill or the daily heal). */
  trigger: "backfill" | "heal" | null;
}

/** A quality-check run as ops.quality_check_runs records it when it starts. */
export interface CheckRunStart {
  interval: Interval;
  layers: ModelLayer[];
  startedAt: Date;
  /** The reference time freshness checks use. */
  now: Date;
  windowStart: Date;
  windowEnd: Date;
  checksTotal: number;
}

/** One check's outcome (ops.quality_check_results). */
export interface CheckResult {
  name: string;
  layer: ModelLayer;
  /** `error` blocks (QualityCheckFailedError); `warn` is recorded and counted. */
  severity: "error" | "warn";
  passed: boolean;
  /** Rows the check returned, capped at 1000. */
  failingRows: number;
  sample: Record<string, unknown>[];
  durationMs: number;
}

/** Keeps a running ledger row's lease alive until stopped (core/db/leases.ts). */
export interface LeaseHeartbeat {
  /** Stops renewing; waits for a renewal in flight. */
  stop(): Promise<void>;
}

/**
 * The operations ledger the transform and quality-check use cases and the embedded workflow engine
 * write and read (ops.transform_runs, ops.quality_check_runs / ops.quality_check_results,
 * ops.workflow_executions, ops.notifications): who ran what, when, with which outcome, and
 * the leases that tell a live run from one whose process died. The Postgres adapter is
 * core/adapters/pg-ops-ledger.ts; writes that record an outcome are retried there through a short
 * database outage (core/db/errors.ts `retryWhileUnavailable`), so an error from them means the
 * outcome could not be recorded.
 *
 * A transform run's success is NOT recorded here: it is written in the transform's own transaction
 * (with its change_xid, which gold's scope reads), see {@link Warehouse.transformLayer}.
 */
export interface OpsLedger {
  /**
   * Records a `running` transform run, leased for the task's time limit (a range run: the renewable
   * run lease), after marking running rows of the layer whose lease expired `abandoned`.
   */
  startTransformRun(run: TransformRunStart): Promise<{ runId: number; leaseRemainingMs: number }>;
  /** Renews a running transform run's lease (range runs, which may outlast any time limit) until stopped. */
  keepTransformRunLeased(runId: number, leaseMs: number): LeaseHeartbeat;
  /** Marks a transform run failed with `error` (retried through a short outage). */
  failTransformRun(runId: number, error: string): Promise<void>;
  /**
   * The earliest hour the latest successful non-range transform of `interval` recomputed, per layer
   * of `layers` (the earliest over them), or null: widens the checks' window to late hours.
   */
  earliestRecomputedHour(interval: Interval, layers: ModelLayer[]): Promise<Date | null>;
  /**
   * Records a `running` check run, leased for the task's time limit, after marking running check
   * runs whose lease expired `abandoned`. Returns its run id.
   */
  startCheckRun(run: CheckRunStart): Promise<number>;
  /** Marks a check run failed with `error`: its checks could not run (retried through a short outage). */
  failCheckRun(runId: number, error: string): Promise<void>;
  /**
   * Records a check run's outcome and its per-check results at once (retried through a short outage;
   * a retry after a commit whose reply was lost adds nothing twice).
   */
  finishCheckRun(
    runId: number,
    outcome: {
      status: "passed" | "failed";
      checksFailed: number;
      checksWarned: number;
      results: CheckResult[];
    },
  ): Promise<void>;
  /** The status of the embedded engine's execution `executionName` (ops.workflow_executions), or null if none. */
  executionStatus(executionName: string): Promise<string | null>;
  /**
   * Records execution `executionName` as running under a renewable lease; a rerun of the same name
   * takes its row over (attempt + 1, outcome and events cleared).
   */
  startExecution(executionName: string, interval: Interval): Promise<{ leaseRemainingMs: number }>;
  /** Renews a running execution's lease until stopped. */
  keepExecutionLeased(executionName: string, leaseMs: number): LeaseHeartbeat;
  /** Records a failure notification (ops.notifications; SNS in the cloud). */
  recordNotification(n: {
    executionName: string;
    interval: Interval;
    subject: string;
    message: unknown;
  }): Promise<void>;
  /** Records an execution's outcome and its event log (retried through a short outage). */
  finishExecution(
    executionName: string,
    outcome: {
      status: "succeeded" | "failed";
      failedState: string | null;
      error: string | null;
      cause: string | null;
      events: unknown[];
    },
  ): Promise<void>;
}

/** A quality check rendered for one run: a query returning the failing rows. */
export interface RenderedCheck {
  name: string;
  layer: ModelLayer;
  severity: "error" | "warn";
  sql: string;
}

/** What one transform transaction wrote (core/sql/runner.ts LayerRunResult, minus the watermark). */
export interface LayerTransformOutput {
  relations: { relation: string; deleted: number; inserted: number }[];
  affectedHours: Date[];
  affectedKeys: number;
  sourceRowsRead: number;
  ingestionRunIds: string[];
  rawObjectKeys: string[];
}

/**
 * The warehouse the SQL models and checks run in: one database session per call (Postgres, or
 * embedded PGlite). core/adapters/pg-warehouse.ts.
 */
export interface Warehouse {
  /**
   * Recomputes `layer` for the run's scope in ONE transaction that holds the layer's advisory lock:
   * reads the layer's watermark, runs the models, advances the watermark and records the run
   * `succeeded` with its lineage and change_xid — all or nothing. On error the transaction is rolled
   * back and the error thrown; the run is then still `running` (the caller marks it failed).
   */
  transformLayer(runId: number, run: TransformRunStart): Promise<LayerTransformOutput>;
  /**
   * Runs `checks` in one read-only, repeatable-read transaction (one snapshot for all) with the
   * run's parameters as transaction-local settings (`wdo.interval`, ...); a check passes when it
   * returns no rows.
   */
  runChecks(checks: RenderedCheck[], settings: CheckSettings): Promise<CheckResult[]>;
}

/** The parameters of a check run, as the `wdo.*` settings show them (ISO timestamps). */
export interface CheckSettings {
  interval: string;
  interval_start: string;
  window_start: string;
  window_end: string;
  now: string;
}

/**
 * What `weather status` reports, as read from the warehouse and the ledgers (core/use-cases/status.ts
 * adds the freshness verdict).
 */
export interface StatusFacts {
  layers: Record<string, Record<string, number>>;
  /** Quarantine entries that are still their site's current outcome (superseded ones are history). */
  quarantined: number;
  lastIngestionRuns: {
    runId: string;
    interval: string;
    status: string;
    attempt: number;
    sitesOk: number;
    sitesFailed: number;
    sitesQuarantined: number;
    observationsLoaded: number;
    startedAt: string;
    finishedAt: string | null;
  }[];
  /** The embedded engine's last execution (in AWS and LocalStack, executions live in Step Functions). */
  lastWorkflow: {
    executionName: string;
    interval: string;
    status: string;
    error: string | null;
    finishedAt: string | null;
  } | null;
  /** The last transform and quality-check runs, recorded by the task functions in every runtime. */
  lastTransform: { layer: string; interval: string; status: string; finishedAt: string | null } | null;
  lastQualityCheck: {
    interval: string;
    status: string;
    /** Failed checks of severity `error` (they fail the run). */
    checksFailed: number;
    /** Failed checks of severity `warn` (recorded, never blocking). */
    checksWarned: number;
    /** Every check that returned rows, with its severity. */
    problems: { name: string; severity: string; failingRows: number }[];
    finishedAt: string | null;
  } | null;
  /**
   * The last check run of each gate (SilverChecks: `["silver"]`, QualityChecks: `["gold"]`; a CLI
   * run of both layers counts as its own), with the checks that returned rows.
   */
  lastQualityChecks: {
    layers: string[];
    interval: string;
    status: string;
    checksFailed: number;
    checksWarned: number;
    problems: { name: string; severity: string; failingRows: number }[];
    finishedAt: string | null;
  }[];
  /** The newest observed_at in bronze, or null when bronze is empty. */
  latestObservedAt: Date | null;
  /** Runs left `running` by a process that died (lease expired), not yet taken over: what to rerun. */
  abandonedRuns: {
    kind: "ingestion" | "transform" | "quality" | "workflow";
    id: string;
    interval: string;
    startedAt: string;
    leaseExpiredAt: string;
  }[];
}

/** The status read model: one consistent-enough look at the warehouse and the ops ledgers. */
export interface StatusReader {
  read(): Promise<StatusFacts>;
}

/** Which hours each site has a bronze observation for: what coverage, backfill and heal work from. */
export interface CoverageReader {
  /** Site id → the hours (`2026-11-22T13`) in [from, to] with at least one row (of `source`, if given). */
  presentHours(args: {
    from: Interval;
    to: Interval;
    siteIds: readonly string[];
    source?: ProviderSource;
  }): Promise<Map<string, Set<string>>>;
}

/** Row count and full-row checksum of a month of bronze (or of what an archive decodes to). */
export interface MonthFingerprint {
  rows: number;
  /** md5 over the md5 of every row's full text (every column), in key order. */
  checksum: string;
}

/** One archived month as ops.bronze_archived_months records it. */
export interface ArchivedMonth extends MonthFingerprint {
  month: Month;
  rawStore: string;
  manifestKey: string;
  archivedAt: Date;
}

/**
 * Bronze's side of retention (core/use-cases/archive.ts; adapters/pg-bronze-archive.ts): read a month
 * out, and move it out of or back into the table in one transaction each, verified by checksum.
 */
export interface BronzeArchiveStore {
  /** Archived months, oldest first. */
  archivedMonths(): Promise<ArchivedMonth[]>;
  /** Months with bronze rows that end at or before `before`'s start, oldest first. */
  monthsWithRows(before: Month): Promise<Month[]>;
  /**
   * Reads the month's rows in key order, `batchRows` at a time, from one snapshot; the fingerprint is
   * of that same snapshot. `onBatch` must not use the database (embedded: one session).
   */
  exportMonth(
    month: Month,
    batchRows: number,
    onBatch: (batch: BronzeBatch) => Promise<void>,
  ): Promise<MonthFingerprint>;
  /**
   * In one transaction: decodes `batches` into a scratch table and checks their fingerprint against
   * `record`'s, deletes the month's bronze rows checking theirs too, and records the month. Throws
   * (and changes nothing) on any mismatch. Returns false, changing nothing, when the month is already
   * recorded (another archive was first).
   */
  completeArchive(
    record: Omit<ArchivedMonth, "archivedAt">,
    batches: AsyncIterable<BronzeBatch>,
  ): Promise<boolean>;
  /**
   * In one transaction: inserts `batches` into bronze, checks the month's fingerprint against
   * `expected` (the manifest's) and the record's, and removes the record. Throws (and changes nothing) on any mismatch, when the month is
   * not recorded, or when bronze already holds rows of the month.
   */
  restoreMonth(
    month: Month,
    expected: MonthFingerprint,
    batches: AsyncIterable<BronzeBatch>,
  ): Promise<MonthFingerprint>;
}
