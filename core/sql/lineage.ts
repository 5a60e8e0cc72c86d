/**
 * Lineage of one interval: raw object keys → ingestion runs → bronze rows → the silver and gold
 * hours each transform run recomputed, the quality-check verdicts and the workflow executions (embedded
 * engine). For `weather lineage`.
 */
import type pg from "pg";
import { type Interval, parseInterval } from "#core/domain/interval.ts";

export interface IntervalLineage {
  interval: Interval;
  ingestionRuns: {
    runId: string;
    source: string;
    status: string;
    startedAt: string;
    observationsLoaded: number;
    bronzeRows: number;
    quarantined: number;
    rawObjectKeys: string[];
  }[];
  transformRuns: {
    runId: number;
    layer: string;
    mode: string;
    status: string;
    startedAt: string;
    finishedAt: string | null;
    window: { start: string; end: string };
    affectedHours: string[];
    sourceRowsRead: number;
    ingestionRunIds: string[];
    rawObjectKeys: string[];
    relations: { relation: string; deleted: number; inserted: number }[];
    error: string | null;
  }[];
  qualityCheckRuns: {
    runId: number;
    layers: string[];
    status: string;
    /** Failed checks of severity `error`. */
    failed: string[];
    /** Failed checks of severity `warn` (recorded, not blocking). */
    warned: string[];
    finishedAt: string;
  }[];
  workflowExecutions: {
    executionName: string;
    status: string;
    attempt: number;
    failedState: string | null;
  }[];
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Everything recorded about `interval`, oldest run first. */
export async function getLineage(pool: pg.Pool, interval: Interval | string): Promise<IntervalLineage> {
  const i = parseInterval(interval);
  const ingestion = await pool.query(
    `select r.run_id, r.source, r.status, r.started_at, r.observations_loaded, r.raw_object_keys,
       (select count(*) from bronze.weather_observations as b where b.ingestion_run_id = r.run_id) as bronze_rows,
       (select count(*) from bronze.current_quarantine as q where q.ingestion_run_id = r.run_id) as quarantined
     from ops.ingestion_runs as r where r.interval = $1 order by r.started_at, r.run_id`,
    [i],
  );
  const transforms = await pool.query(
    `select run_id, layer, mode, status, started_at, finished_at, window_start, window_end, affected_hours,
       source_rows_read, ingestion_run_ids, raw_object_keys, relations, error
     from ops.transform_runs where interval = $1 order by run_id`,
    [i],
  );
  const checks = await pool.query(
    `select q.run_id, q.layers, q.status, q.finished_at,
       coalesce(array_agg(r.check_name order by r.check_name) filter (where not r.passed and r.severity = 'error'),
         '{}') as failed,
       coalesce(array_agg(r.check_name order by r.check_name) filter (where not r.passed and r.severity = 'warn'),
         '{}') as warned
     from ops.quality_check_runs as q
     left join ops.quality_check_results as r on r.run_id = q.run_id
     where q.interval = $1 group by q.run_id order by q.run_id`,
    [i],
  );
  const workflow = await pool.query(
    `select execution_name, status, attempt, failed_state from ops.workflow_executions where interval = $1
     order by started_at`,
    [i],
  );
  return {
    interval: i,
    ingestionRuns: ingestion.rows.map((r) => ({
      runId: r.run_id,
      source: r.source,
      status: r.status,
      startedAt: iso(r.started_at) as string,
      observationsLoaded: r.observations_loaded,
      bronzeRows: r.bronze_rows,
      quarantined: r.quarantined,
      rawObjectKeys: r.raw_object_keys,
    })),
    transformRuns: transforms.rows.map((r) => ({
      runId: r.run_id,
      layer: r.layer,
      mode: r.mode,
      status: r.status,
      startedAt: iso(r.started_at) as string,
      finishedAt: iso(r.finished_at),
      window: { start: iso(r.window_start) as string, end: iso(r.window_end) as string },
      affectedHours: (r.affected_hours as Date[]).map((d) => d.toISOString()),
      sourceRowsRead: r.source_rows_read,
      ingestionRunIds: r.ingestion_run_ids,
      rawObjectKeys: r.raw_object_keys,
      relations: r.relations,
      error: r.error,
    })),
    qualityCheckRuns: checks.rows.map((r) => ({
      runId: r.run_id,
      layers: r.layers,
      status: r.status,
      failed: r.failed,
      warned: r.warned,
      finishedAt: iso(r.finished_at) as string,
    })),
    workflowExecutions: workflow.rows.map((r) => ({
      executionName: r.execution_name,
      status: r.status,
      attempt: r.attempt,
      failedState: r.failed_state,
    })),
  };
}
