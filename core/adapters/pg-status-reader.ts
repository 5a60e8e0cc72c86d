/**
 * The status read model (core/ports.ts `StatusReader`) on Postgres: row counts per layer, the latest
 * runs of every ledger, the newest observation and the abandoned runs. Layers that do not exist yet
 * (no transform has run) are reported empty, not as errors; a run still `running` past its lease
 * reads `abandoned` (core/db/leases.ts).
 */
import type pg from "pg";
import { effectiveStatus } from "#core/db/leases.ts";
import type { StatusFacts, StatusReader } from "#core/ports.ts";

type AbandonedKind = StatusFacts["abandonedRuns"][number]["kind"];

export class PgStatusReader implements StatusReader {
  constructor(private readonly pool: pg.Pool) {}

  read(): Promise<StatusFacts> {
    return readFacts(this.pool);
  }
}

/** Where each layer's tables live (gold's tables sit behind the stable views in `gold`). */
const LAYER_OF_SCHEMA: Record<string, string> = { bronze: "bronze", silver: "silver", gold_internal: "gold" };

async function readFacts(pool: pg.Pool): Promise<StatusFacts> {
  const tables = await pool.query<{ schema: string; name: string }>(
    `select table_schema as schema, table_name as name from information_schema.tables
     where table_schema = any($1) and table_type = 'BASE TABLE' order by 1, 2`,
    [Object.keys(LAYER_OF_SCHEMA)],
  );
  const layers: StatusFacts["layers"] = { bronze: {}, silver: {}, gold: {} };
  for (const t of tables.rows) {
    const { rows } = await pool.query<{ n: number }>(`select count(*) as n from "${t.schema}"."${t.name}"`);
    const layer = LAYER_OF_SCHEMA[t.schema] ?? t.schema;
    layers[layer] = { ...layers[layer], [t.name]: rows[0]?.n ?? 0 };
  }
  const runs = await pool.query(
    `select run_id, interval, ${effectiveStatus("r")} as status, attempt, sites_ok, sites_failed, sites_quarantined, observations_loaded,
            started_at, finished_at
     from ops.ingestion_runs as r order by started_at desc limit 5`,
  );
  const latest = await pool.query<{ latest: Date | null }>(
    "select max(observed_at) as latest from bronze.weather_observations",
  );
  const latestObservedAt = latest.rows[0]?.latest ?? null;
  const workflow = await lastWorkflow(pool);
  const transform = await latestRow(
    pool,
    "ops.transform_runs",
    `select layer, interval, ${effectiveStatus("t")} as status, finished_at
     from ops.transform_runs as t order by started_at desc limit 1`,
  );
  const check = await latestRow(
    pool,
    "ops.quality_check_runs",
    `select run_id, interval, ${effectiveStatus("q")} as status, checks_failed, checks_warned, finished_at
     from ops.quality_check_runs as q order by started_at desc limit 1`,
  );
  const problemsOf = async (runId: number) =>
    (
      await pool.query<{ name: string; severity: string; failingRows: number }>(
        `select check_name as name, severity, failing_rows as "failingRows" from ops.quality_check_results
         where run_id = $1 and not passed order by severity, check_name`,
        [runId],
      )
    ).rows;
  const problems = check ? await problemsOf(check.run_id) : [];
  const perGate = check
    ? (
        await pool.query(
          `select * from (
             select distinct on (layers) run_id, layers, interval, ${effectiveStatus("q")} as status,
                    checks_failed, checks_warned, finished_at, started_at
             from ops.quality_check_runs as q order by layers, started_at desc
           ) as last order by started_at desc`,
        )
      ).rows
    : [];
  const lastQualityChecks: StatusFacts["lastQualityChecks"] = [];
  for (const r of perGate)
    lastQualityChecks.push({
      layers: r.layers,
      interval: r.interval,
      status: r.status,
      checksFailed: r.checks_failed,
      checksWarned: r.checks_warned,
      problems: await problemsOf(r.run_id),
      finishedAt: iso(r.finished_at),
    });
  return {
    layers,
    quarantined: await currentQuarantine(pool),
    lastIngestionRuns: runs.rows.map((r) => ({
      runId: r.run_id,
      interval: r.interval,
      status: r.status,
      attempt: r.attempt,
      sitesOk: r.sites_ok,
      sitesFailed: r.sites_failed,
      sitesQuarantined: r.sites_quarantined,
      observationsLoaded: r.observations_loaded,
      startedAt: (r.started_at as Date).toISOString(),
      finishedAt: r.finished_at ? (r.finished_at as Date).toISOString() : null,
    })),
    lastWorkflow: workflow,
    lastTransform: transform
      ? {
          layer: transform.layer,
          interval: transform.interval,
          status: transform.status,
          finishedAt: iso(transform.finished_at),
        }
      : null,
    lastQualityCheck: check
      ? {
          interval: check.interval,
          status: check.status,
          checksFailed: check.checks_failed,
          checksWarned: check.checks_warned,
          problems,
          finishedAt: iso(check.finished_at),
        }
      : null,
    lastQualityChecks,
    latestObservedAt,
    abandonedRuns: await abandonedRuns(pool),
  };
}

/** Every ledger's running rows whose lease expired, oldest first. */
async function abandonedRuns(pool: pg.Pool): Promise<StatusFacts["abandonedRuns"]> {
  const { rows } = await pool.query<{
    kind: AbandonedKind;
    id: string;
    interval: string;
    started_at: Date;
    lease_expires_at: Date;
  }>(
    `select kind, id, interval, started_at, lease_expires_at from (
       select 'ingestion' as kind, run_id as id, interval, started_at, lease_expires_at, status
       from ops.ingestion_runs
       union all
       select 'transform', layer || ':' || run_id, interval, started_at, lease_expires_at, status
       from ops.transform_runs
       union all
       select 'quality', run_id::text, interval, started_at, lease_expires_at, status
       from ops.quality_check_runs
       union all
       select 'workflow', execution_name, interval, started_at, lease_expires_at, status
       from ops.workflow_executions
     ) as runs
     where status = 'running' and lease_expires_at < now()
     order by started_at`,
  );
  return rows.map((r) => ({
    kind: r.kind,
    id: r.id,
    interval: r.interval,
    startedAt: r.started_at.toISOString(),
    leaseExpiredAt: r.lease_expires_at.toISOString(),
  }));
}

async function lastWorkflow(pool: pg.Pool): Promise<StatusFacts["lastWorkflow"]> {
  const exists = await pool.query<{ t: string | null }>(
    "select to_regclass('ops.workflow_executions')::text as t",
  );
  if (!exists.rows[0]?.t) return null;
  const { rows } = await pool.query(
    `select execution_name, interval, ${effectiveStatus("w")} as status, error, finished_at
     from ops.workflow_executions as w order by started_at desc limit 1`,
  );
  const r = rows[0];
  if (!r) return null;
  return {
    executionName: r.execution_name,
    interval: r.interval,
    status: r.status,
    error: r.error,
    finishedAt: r.finished_at ? (r.finished_at as Date).toISOString() : null,
  };
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** The newest row of a ledger table, or null when the table does not exist yet or is empty. */
// biome-ignore lint/suspicious/noExplicitAny: a ledger row straight from pg, read field by field above
async function latestRow(pool: pg.Pool, table: string, sql: string): Promise<Record<string, any> | null> {
  const exists = await pool.query<{ t: string | null }>("select to_regclass($1)::text as t", [table]);
  if (!exists.rows[0]?.t) return null;
  const { rows } = await pool.query(sql);
  return rows[0] ?? null;
}

async function currentQuarantine(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "select count(*)::int as n from bronze.current_quarantine",
  );
  return rows[0]?.n ?? 0;
}
