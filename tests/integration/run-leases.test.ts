/**
 * Session bounds and run leases on both backends (Postgres by DATABASE_URL, else the embedded
 * PGlite): every session carries lock_timeout and statement_timeout; a running row past its lease
 * reads `abandoned` in `status` and the gold views, and the next run takes over.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgOpsPorts } from "#core/adapters/pg-ops-ledger.ts";
import { PgStatusReader } from "#core/adapters/pg-status-reader.ts";
import { readStatus } from "#core/use-cases/status.ts";
import { runTransform } from "#core/use-cases/transform.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.destroy();
});

describe("session settings", () => {
  it("every session has lock_timeout, statement_timeout and the lease lengths", async () => {
    const { rows } = await db.pool.query(
      `select current_setting('lock_timeout') as lock, current_setting('statement_timeout') as statement,
              current_setting('wdo.run_lease_ms') as run_lease, current_setting('wdo.task_lease_ms') as task_lease`,
    );
    expect(rows).toEqual([{ lock: "1min", statement: "10min", run_lease: "120000", task_lease: "900000" }]);
  });
});

describe("run leases", () => {
  it("reports a running row past its lease as abandoned, and the next run of the layer takes over", async () => {
    // Prepare: an ingestion run and a silver run whose processes died (leases expired).
    await db.pool.query(
      `insert into ops.ingestion_runs (run_id, source, interval, started_at, status, lease_expires_at)
       values ('open-meteo:2026-11-22T12', 'open-meteo', '2026-11-22T12', now() - interval '1 hour', 'running',
               now() - interval '1 minute')`,
    );
    await db.pool.query(
      `insert into ops.transform_runs
         (layer, interval, mode, lookback_hours, window_start, window_end, status, started_at, lease_expires_at)
       values ('silver', '2026-11-22T12', 'incremental', 3, now(), now(), 'running', now() - interval '1 hour',
               now() - interval '1 minute')`,
    );

    // Act + Assess: status and the views say abandoned.
    const status = await readStatus(new PgStatusReader(db.pool));
    expect(status.lastIngestionRuns[0]?.status).toBe("abandoned");
    expect(status.abandonedRuns.map((r) => `${r.kind}:${r.interval}`).sort()).toEqual([
      "ingestion:2026-11-22T12",
      "transform:2026-11-22T12",
    ]);
    const views = await db.pool.query(`select kind, status from gold.v_pipeline_runs order by kind`);
    expect(views.rows).toEqual([
      { kind: "ingestion", status: "abandoned" },
      { kind: "transform", status: "abandoned" },
    ]);
    const health = await db.pool.query(
      "select component, failures_24h, abandoned_24h, last_status from gold.v_pipeline_health order by 1",
    );
    expect(health.rows).toEqual([
      { component: "ingest:open-meteo", failures_24h: 1, abandoned_24h: 1, last_status: "abandoned" },
      { component: "transform:silver", failures_24h: 1, abandoned_24h: 1, last_status: "abandoned" },
    ]);

    // Act: the next silver run.
    await runTransform(pgOpsPorts(db.pool), { layer: "silver", interval: "2026-11-22T12" });

    // Assess: the dead run is marked abandoned for good; the new one succeeded.
    const runs = await db.pool.query("select status, error from ops.transform_runs order by run_id");
    expect(runs.rows.map((r) => r.status)).toEqual(["abandoned", "succeeded"]);
    expect(runs.rows[0]?.error).toMatch(/^abandoned: its lease expired/);
    const after = await readStatus(new PgStatusReader(db.pool));
    expect(after.abandonedRuns.map((r) => r.kind)).toEqual(["ingestion"]);
  });
});
