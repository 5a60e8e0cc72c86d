/**
 * Lineage of one interval: raw objects → ingestion runs → bronze rows → silver / gold recomputations
 * → quality checks → workflow executions, read from the ops ledger.
 */
import type pg from "pg";
import type { Interval } from "../domain/interval.ts";

export interface Lineage {
  interval: Interval;
  ingestion: {
    runId: string;
    status: string;
    attempt: number;
    rawObjectKeys: string[];
    bronzeRows: number;
    quarantined: number;
  }[];
  transforms: {
    runId: number;
    layer: string;
    mode: string;
    status: string;
    window: { start: string; end: string };
    readFromIngestionRuns: string[];
    relations: unknown;
  }[];
  checks: { runId: number; passed: boolean; checksFailed: number; finishedAt: string | null }[];
  workflow: { executionName: string; status: string; attempt: number; failedState: string | null }[];
}

export async function readLineage(pool: pg.Pool, interval: Interval): Promise<Lineage> {
  const ingestion = await pool.query(
    `select r.run_id, r.status, r.attempt, r.raw_object_keys,
       (select count(*) from bronze.weather_observations b where b.ingestion_run_id = r.run_id) as bronze_rows,
       (select count(*) from bronze.quarantine q where q.ingestion_run_id = r.run_id) as quarantined
     from ops.ingestion_runs r where r.interval = $1 order by r.run_id`,
    [interval],
  );
  const transforms = await pool.query(
    `select run_id, layer, mode, status, window_start, window_end, ingestion_run_ids, relations
     from ops.transform_runs where interval = $1 order by run_id`,
    [interval],
  );
  const checks = await pool.query(
    `select run_id, status = 'passed' as passed, checks_failed, finished_at from ops.quality_check_runs
     where interval = $1 order by run_id`,
    [interval],
  );
  const workflow = await pool.query(
    `select execution_name, status, attempt, failed_state from ops.workflow_executions where interval = $1
     order by started_at`,
    [interval],
  );
  return {
    interval,
    ingestion: ingestion.rows.map((r) => ({
      runId: r.run_id,
      status: r.status,
      attempt: r.attempt,
      rawObjectKeys: r.raw_object_keys,
      bronzeRows: r.bronze_rows,
      quarantined: r.quarantined,
    })),
    transforms: transforms.rows.map((r) => ({
      runId: r.run_id,
      layer: r.layer,
      mode: r.mode,
      status: r.status,
      window: { start: r.window_start.toISOString(), end: r.window_end.toISOString() },
      readFromIngestionRuns: r.ingestion_run_ids,
      relations: r.relations,
    })),
    checks: checks.rows.map((r) => ({
      runId: r.run_id,
      passed: r.passed,
      checksFailed: r.checks_failed,
      finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
    })),
    workflow: workflow.rows.map((r) => ({
      executionName: r.execution_name,
      status: r.status,
      attempt: r.attempt,
      failedState: r.failed_state,
    })),
  };
}
