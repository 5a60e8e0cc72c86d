/** The bronze layer and ingestion ledger in Postgres. */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { retryWhileUnavailable } from "../db/errors.ts";
import { type Heartbeat, LEASE_REMAINING_MS, RUN_LEASE_EXPIRY, startHeartbeat } from "../db/leases.ts";
import type { BronzeRepository, BronzeRow, SiteOutcome } from "../ports.ts";
import { syncSites } from "../sql/sites.ts";

// The key's columns come first: the upsert updates every column after them.
const COLUMNS = [
  ["site_id", "text"],
  ["source", "text"],
  ["observed_at", "timestamptz"],
  ["kind", "text"],
  ["temperature_c", "float8"],
  ["feels_like_c", "float8"],
  ["humidity_pct", "float8"],
  ["pressure_hpa", "float8"],
  ["wind_speed_ms", "float8"],
  ["wind_gust_ms", "float8"],
  ["wind_direction_deg", "float8"],
  ["cloud_cover_pct", "float8"],
  ["precipitation_mm", "float8"],
  ["precipitation_window_minutes", "int4"],
  ["condition_code", "text"],
  ["condition_system", "text"],
  ["ingestion_run_id", "text"],
  ["ingested_at", "timestamptz"],
  ["raw_object_key", "text"],
  ["payload", "jsonb"],
] as const;

const names = COLUMNS.map(([n]) => n);
/** The columns of each {@link copyLines} line, in order. */
export const COPY_COLUMNS: readonly string[] = names;
/** Bronze's key (migration 0070): a live reading and a history value of one instant are two rows. */
const KEY = ["site_id", "source", "observed_at", "kind"] as const;
// A changed payload replaces the row; an identical one leaves it untouched, so re-running an interval
// rewrites nothing. change_xid (default: this transaction) marks the row for the next transform.
const ON_CONFLICT = `
on conflict (${KEY.join(", ")}) do update set
  ${names
    .slice(KEY.length)
    .map((n) => `${n} = excluded.${n}`)
    .join(",\n  ")},
  change_xid = default
where weather_observations.payload is distinct from excluded.payload`;

// Small batches: one statement, arrays in, unnest out.
const UPSERT_UNNEST_SQL = `
insert into bronze.weather_observations (${names.join(", ")})
select ${COLUMNS.map(([n, t]) => (t === "jsonb" ? `${n}::jsonb` : n)).join(", ")}
from unnest(${COLUMNS.map(([, t], i) => `$${i + 1}::${t === "jsonb" ? "text" : t}[]`).join(", ")})
  as u(${names.join(", ")})
${ON_CONFLICT}`;

// Large batches on a server: COPY into a session-local staging table, then one upsert from it —
// about twice the rows/s of a multi-row insert. Defaults come along so that columns COPY does not
// fill (change_xid, not null) stay valid; the upsert sets them on the target.
const STAGE_SQL = `create temp table if not exists bronze_stage
  (like bronze.weather_observations including defaults) on commit delete rows`;
const COPY_SQL = `copy pg_temp.bronze_stage (${names.join(", ")}) from stdin`;
const UPSERT_STAGED_SQL = `
insert into bronze.weather_observations (${names.join(", ")})
select ${names.join(", ")} from pg_temp.bronze_stage
order by ${KEY.join(", ")} -- key order keeps the primary-key index inserts local
${ON_CONFLICT}`;

// A batch of keys bronze does not hold yet — every new hour's first load — goes straight into bronze
// with COPY: no staging table, no speculative insertion, about 1.5 × the staged upsert's rows/s
// (bench:ingest). Inserting new keys is all the upsert would do with them, change_xid included.
const COPY_DIRECT_SQL = `copy bronze.weather_observations (${names.join(", ")}) from stdin`;
// The batch's first key decides whether to try: a rerun's batch (keys landed) goes to the upsert at
// once; a batch whose later keys exist fails its COPY on the key and is upserted instead.
const KEY_EXISTS_SQL = `select exists (select from bronze.weather_observations
  where (${KEY.join(", ")}) = ($1, $2, $3, $4)) as found`;
const UNIQUE_VIOLATION = "23505";

/** Rows at or above this count go through COPY (when the repository may use it). */
export const COPY_THRESHOLD = 500;

// COPY text format: \N is null; backslash, newline, carriage return and tab are escaped.
const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
const copyText = (v: string | null | undefined): string =>
  v === null || v === undefined
    ? "\\N"
    : COPY_SPECIAL.test(v)
      ? v.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c] as string)
      : v;
// Numbers print as JavaScript does, which Postgres' float8/int4 input reads back exactly.
const copyNumber = (v: number | null | undefined): string =>
  v === null || v === undefined ? "\\N" : String(v);

/**
 * One batch as COPY text, built row by row (no per-column arrays): the history path writes a million
 * rows a year per 100 sites, and this string is most of the client's work. JSON.stringify never
 * emits a raw newline, carriage return or tab, so a payload needs only its backslashes doubled.
 */
export function copyLines(rows: BronzeRow[]): string {
  let out = "";
  // A batch repeats a handful of run ids, load times and object keys: escape each once.
  const memo = new Map<string, string>();
  const once = (v: string) => {
    let e = memo.get(v);
    if (e === undefined) {
      e = copyText(v);
      memo.set(v, e);
    }
    return e;
  };
  for (const r of rows) {
    const payload = JSON.stringify(r.payload ?? null);
    out +=
      `${once(r.siteId)}\t${once(r.source)}\t${r.observedAt.toISOString()}\t${once(r.kind)}\t` +
      `${copyNumber(r.temperatureC)}\t${copyNumber(r.feelsLikeC)}\t${copyNumber(r.humidityPct)}\t` +
      `${copyNumber(r.pressureHpa)}\t${copyNumber(r.windSpeedMs)}\t${copyNumber(r.windGustMs)}\t` +
      `${copyNumber(r.windDirectionDeg)}\t${copyNumber(r.cloudCoverPct)}\t${copyNumber(r.precipitationMm)}\t` +
      `${copyNumber(r.precipitationWindowMinutes)}\t${copyText(r.conditionCode)}\t${copyText(r.conditionSystem)}\t` +
      `${once(r.ingestionRunId)}\t${once(r.ingestedAt.toISOString())}\t${once(r.rawObjectKey)}\t` +
      `${payload.includes("\\") ? payload.replaceAll("\\", "\\\\") : payload}\n`;
  }
  return out;
}

function toColumns(rows: BronzeRow[]): unknown[][] {
  return [
    rows.map((r) => r.siteId),
    rows.map((r) => r.source),
    rows.map((r) => r.observedAt.toISOString()),
    rows.map((r) => r.kind),
    rows.map((r) => r.temperatureC),
    rows.map((r) => r.feelsLikeC),
    rows.map((r) => r.humidityPct),
    rows.map((r) => r.pressureHpa),
    rows.map((r) => r.windSpeedMs),
    rows.map((r) => r.windGustMs),
    rows.map((r) => r.windDirectionDeg),
    rows.map((r) => r.cloudCoverPct),
    rows.map((r) => r.precipitationMm),
    rows.map((r) => r.precipitationWindowMinutes),
    rows.map((r) => r.conditionCode),
    rows.map((r) => r.conditionSystem),
    rows.map((r) => r.ingestionRunId),
    rows.map((r) => r.ingestedAt.toISOString()),
    rows.map((r) => r.rawObjectKey),
    rows.map((r) => JSON.stringify(r.payload ?? null)),
  ];
}

/**
 * Makes the monthly partitions (migration 0091) for the months of `rows` and the month after the last
 * of them, before they are written: the hourly ingest thereby makes next month's partition a month
 * ahead, and a backfill or replay of older months makes theirs. The function is idempotent, takes no
 * lock for a month that exists (one catalog lookup each) and attaches a new month without waiting on
 * readers or writers of bronze; bronze has no default partition, so a row of a month nobody made
 * would fail its insert rather than land somewhere unseen.
 */
async function ensurePartitions(pool: pg.Pool, rows: BronzeRow[]): Promise<void> {
  let min = (rows[0] as BronzeRow).observedAt;
  let max = min;
  for (const r of rows) {
    if (r.observedAt < min) min = r.observedAt;
    if (r.observedAt > max) max = r.observedAt;
  }
  await pool.query("select bronze.ensure_observation_partitions($1, $2::timestamptz + interval '1 month')", [
    min.toISOString(),
    max.toISOString(),
  ]);
}

/**
 * Bronze in Postgres. `copy` enables the COPY path for large batches; the embedded PGlite keeps to
 * the unnest statement (its socket server is not built for the COPY sub-protocol).
 */
export function pgBronzeRepository(pool: pg.Pool, opts: { copy?: boolean } = {}): BronzeRepository {
  // Lease renewal of the run this repository has open (see core/db/leases.ts).
  const heartbeats = new Map<string, Heartbeat>();
  return {
    // A server runs two upserts at once on this project's two-core machines (bench:backfill); the
    // embedded PGlite (no COPY) is one session.
    maxConcurrentWrites: opts.copy ? 2 : 1,
    async upsertSites(sites) {
      await syncSites(pool, sites);
    },

    async upsertObservations(rows) {
      if (rows.length === 0) return 0;
      await ensurePartitions(pool, rows);
      if (!opts.copy || rows.length < COPY_THRESHOLD) {
        const res = await pool.query(UPSERT_UNNEST_SQL, toColumns(rows));
        return res.rowCount ?? 0;
      }
      const text = copyLines(rows);
      const first = rows[0] as BronzeRow;
      const client = await pool.connect();
      try {
        await client.query("begin");
        const { rows: probe } = await client.query<{ found: boolean }>(KEY_EXISTS_SQL, [
          first.siteId,
          first.source,
          first.observedAt.toISOString(),
          first.kind,
        ]);
        if (!probe[0]?.found) {
          await client.query("savepoint direct");
          try {
            await pipeline(Readable.from([text]), client.query(copyFrom(COPY_DIRECT_SQL)));
            await client.query("commit");
            return rows.length;
          } catch (e) {
            if ((e as { code?: string }).code !== UNIQUE_VIOLATION) throw e;
            await client.query("rollback to savepoint direct"); // a key landed before: upsert them all
          }
        }
        await client.query(STAGE_SQL);
        await pipeline(Readable.from([text]), client.query(copyFrom(COPY_SQL)));
        const res = await client.query(UPSERT_STAGED_SQL);
        await client.query("commit");
        return res.rowCount ?? 0;
      } catch (e) {
        await client.query("rollback");
        throw e;
      } finally {
        client.release();
      }
    },

    async quarantine(entries) {
      if (entries.length === 0) return;
      // Keys are per attempt, so a conflict is a replay of the same object: refresh the reason (a
      // newer parser may word it better), never duplicate.
      await pool.query(
        `insert into bronze.quarantine
           (source, interval, site_id, raw_object_key, reason, excerpt, ingestion_run_id, quarantined_at)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                              $7::text[], $8::timestamptz[])
         on conflict (raw_object_key, site_id) do update set
           reason = excluded.reason, excerpt = excluded.excerpt,
           ingestion_run_id = excluded.ingestion_run_id, quarantined_at = excluded.quarantined_at`,
        [
          entries.map((e) => e.source),
          entries.map((e) => e.interval),
          entries.map((e) => e.siteId),
          entries.map((e) => e.rawObjectKey),
          entries.map((e) => e.reason),
          entries.map((e) => e.excerpt),
          entries.map((e) => e.ingestionRunId),
          entries.map((e) => e.quarantinedAt.toISOString()),
        ],
      );
    },

    async startRun(run) {
      // Same run id = same hour: a rerun takes the row over (attempt + 1), also from a dead process.
      const { rows } = await pool.query<{ remaining: number }>(
        `insert into ops.ingestion_runs as r
           (run_id, source, interval, started_at, status, sites_total, lease_expires_at)
         values ($1, $2, $3, $4, 'running', $5, ${RUN_LEASE_EXPIRY})
         on conflict (run_id) do update set
           attempt = r.attempt + 1, started_at = excluded.started_at, finished_at = null,
           status = 'running', sites_total = excluded.sites_total, error = null,
           lease_expires_at = excluded.lease_expires_at
         returning ${LEASE_REMAINING_MS("r")} as remaining`,
        [run.runId, run.source, run.interval, run.startedAt.toISOString(), run.sitesTotal],
      );
      // Callers run one ingestion at a time per repository (a Lambda invocation, the CLI's loops), so
      // a heartbeat still open here is a run whose finishRun was never reached: let its lease lapse.
      for (const hb of heartbeats.values()) await hb.stop();
      heartbeats.clear();
      const target = { table: "ops.ingestion_runs", keyColumn: "run_id", key: run.runId };
      heartbeats.set(run.runId, startHeartbeat(pool, target, rows[0]?.remaining ?? 0));
    },

    async weightedCallsSince(source, since) {
      const { rows } = await pool.query<{ at: Date; weighted_calls: number }>(
        `select finished_at as at, weighted_calls from ops.ingestion_runs
         where source = $1 and finished_at >= $2 and weighted_calls > 0
         order by finished_at`,
        [source, since.toISOString()],
      );
      return rows.map((r) => ({ at: new Date(r.at), weightedCalls: Number(r.weighted_calls) }));
    },

    async leaseRun(runId) {
      const { rows } = await pool.query<{ remaining: number }>(
        `update ops.ingestion_runs as r set lease_expires_at = ${RUN_LEASE_EXPIRY}
         where run_id = $1 and status = 'running' returning ${LEASE_REMAINING_MS("r")} as remaining`,
        [runId],
      );
      if (!rows[0])
        throw new Error(
          `ingestion run ${runId} is not running: a shard needs the run its plan opened (rerun the interval's workflow)`,
        );
      return startHeartbeat(
        pool,
        { table: "ops.ingestion_runs", keyColumn: "run_id", key: runId },
        rows[0].remaining,
      );
    },

    async recordShard(runId, sites, extra) {
      await retryWhileUnavailable(() => writeShard(pool, runId, sites, extra));
    },

    async runCounts(runId) {
      const { rows } = await pool.query<{ total: number; ok: number; failed: number; quarantined: number }>(
        `select count(*)::int as total, (count(*) filter (where status = 'ok'))::int as ok,
           (count(*) filter (where status = 'failed'))::int as failed,
           (count(*) filter (where status = 'quarantined'))::int as quarantined
         from ops.ingestion_site_results where run_id = $1`,
        [runId],
      );
      const c = rows[0] ?? { total: 0, ok: 0, failed: 0, quarantined: 0 };
      return { sitesTotal: c.total, sitesOk: c.ok, sitesFailed: c.failed, sitesQuarantined: c.quarantined };
    },

    async finishRun(run, sites) {
      try {
        // Through a database restart the outcome is still recorded (else the lease expires: abandoned).
        await retryWhileUnavailable(() => writeOutcome(pool, run, sites));
      } finally {
        await heartbeats.get(run.runId)?.stop();
        heartbeats.delete(run.runId);
      }
    },
  };
}

/**
 * Site results are upserted, not replaced: a run that refetched only some sites (a backfill of the
 * missing ones, one shard) leaves the others' outcomes current.
 */
async function upsertSiteResults(client: pg.PoolClient, runId: string, sites: SiteOutcome[]): Promise<void> {
  await client.query(
    `insert into ops.ingestion_site_results (run_id, site_id, status, reason, raw_object_key)
     select $1, * from unnest($2::text[], $3::text[], $4::text[], $5::text[])
     on conflict (run_id, site_id) do update set
       status = excluded.status, reason = excluded.reason, raw_object_key = excluded.raw_object_key`,
    [
      runId,
      sites.map((s) => s.siteId),
      sites.map((s) => s.status),
      sites.map((s) => s.reason),
      sites.map((s) => s.rawObjectKey),
    ],
  );
}

/** A shard's site results and its raw keys and weighted calls, into the run; status and counts stay. */
async function writeShard(
  pool: pg.Pool,
  runId: string,
  sites: Parameters<BronzeRepository["recordShard"]>[1],
  extra: Parameters<BronzeRepository["recordShard"]>[2],
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    await upsertSiteResults(client, runId, sites);
    await client.query(
      `update ops.ingestion_runs as r set
         raw_object_keys = array(select distinct k from unnest(r.raw_object_keys || $2::text[]) as k order by k),
         weighted_calls = r.weighted_calls + $3
       where r.run_id = $1`,
      [runId, extra.rawObjectKeys, extra.weightedCalls],
    );
    await client.query("commit");
  } catch (e) {
    await client.query("rollback").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/** One transaction on one client: the ledger row and its per-site results change together. */
async function writeOutcome(
  pool: pg.Pool,
  run: Parameters<BronzeRepository["finishRun"]>[0],
  sites: Parameters<BronzeRepository["finishRun"]>[1],
): Promise<void> {
  // One transaction on one client: the ledger row and its per-site results change together.
  // Site results are upserted, not replaced: a run that refetched only some sites (a backfill of the
  // missing ones) leaves the others' outcomes current. The counts are then derived from the results,
  // so they always describe the hour, not just the last attempt.
  const client = await pool.connect();
  try {
    await client.query("begin");
    await upsertSiteResults(client, run.runId, sites);
    await client.query(
      `update ops.ingestion_runs as r set finished_at = $2, status = $3, sites_total = c.total,
         sites_ok = c.ok, sites_failed = c.failed, sites_quarantined = c.quarantined,
         observations_loaded = $4, fetch_latency_p50_ms = $5, fetch_latency_p95_ms = $6,
         raw_object_keys = array(select distinct k from unnest(r.raw_object_keys || $7::text[]) as k order by k),
         error = $8, weighted_calls = r.weighted_calls + $9
       from (
         select count(*)::int as total,
           (count(*) filter (where status = 'ok'))::int as ok,
           (count(*) filter (where status = 'failed'))::int as failed,
           (count(*) filter (where status = 'quarantined'))::int as quarantined
         from ops.ingestion_site_results where run_id = $1
       ) as c
       where r.run_id = $1`,
      [
        run.runId,
        (run.finishedAt ?? new Date()).toISOString(),
        run.status,
        run.observationsLoaded,
        run.fetchLatencyP50Ms,
        run.fetchLatencyP95Ms,
        run.rawObjectKeys,
        run.error ?? null,
        // Added, not set: every attempt of the hour spent its calls (0071_weighted_calls.sql).
        run.weightedCalls ?? 0,
      ],
    );
    await client.query("commit");
  } catch (e) {
    await client.query("rollback").catch(() => {}); // a dead connection has nothing to roll back
    throw e;
  } finally {
    client.release();
  }
}
