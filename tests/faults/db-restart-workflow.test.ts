/**
 * Fault: Postgres stops (immediate shutdown: every backend killed, as in a crash) while the workflow's
 * Silver step runs, and is back a second later (issue 10, item 3). The step must fail with
 * DatabaseUnavailableError, its run be recorded failed once the server is back, the state machine's
 * Retry succeed, and no failure notification be sent. And when every attempt fails (a lock that is
 * never released: lock_timeout makes each attempt fail), the notification is recorded exactly once.
 *
 * To stop the server at a known point, the test holds the Silver layer's advisory lock: the step is
 * then inside its transaction, waiting on the lock.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWeather, waitFor, weather } from "./support/cli.ts";
import { type PrivatePostgres, startPrivatePostgres } from "./support/private-postgres.ts";

const INTERVAL = "2026-11-22T13";
// core/sql/runner.ts: LOCK_NAMESPACE ("WDO") and the silver layer's key.
const SILVER_LOCK = [0x57444f, 1];

let server: PrivatePostgres;

beforeAll(async () => {
  server = await startPrivatePostgres();
});
afterAll(async () => {
  await server?.destroy();
});

async function ingested(name: string): Promise<string> {
  const url = await server.createDatabase(name);
  const ingest = await weather(["ingest", "--source", "simulator", "--interval", INTERVAL, "--db", url]);
  expect(ingest.code, ingest.stderr).toBe(0);
  return url;
}

async function holdSilverLock(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {}); // the test kills the server under it
  await client.connect();
  await client.query("select pg_advisory_lock($1, $2)", SILVER_LOCK);
  return client;
}

const waitingOnLock = (db: string) =>
  waitFor(async () => {
    const { rows } = await server.query(
      "select pid from pg_stat_activity where datname = $1 and wait_event_type = 'Lock' and wait_event = 'advisory'",
      [db],
    );
    return rows.length > 0;
  });

describe("the embedded workflow when Postgres restarts mid-step", () => {
  it("fails the step with DatabaseUnavailableError, records it, and the Retry succeeds", async () => {
    // Prepare
    const url = await ingested("restart");
    await holdSilverLock(url);
    const run = startWeather(["transform", "--interval", INTERVAL, "--db", url, "--json"]);
    await waitingOnLock("restart");

    // Act: crash the server while Silver waits inside its transaction; back a second later.
    await server.stop("immediate");
    await new Promise((r) => setTimeout(r, 1000));
    await server.start();
    const result = await run.done;

    // Assess: the workflow succeeded through a retry; nothing is left running; no notification.
    expect(result.stderr).not.toMatch(/Unhandled 'error' event/);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout) as { status: string; retries: number };
    expect(doc.status).toBe("succeeded");
    expect(doc.retries).toBeGreaterThanOrEqual(1);
    const runs = await server.query<{ layer: string; status: string; error: string | null }>(
      "select layer, status, error from ops.transform_runs order by run_id",
      [],
      "restart",
    );
    expect(runs.rows[0]).toMatchObject({ layer: "silver", status: "failed" });
    expect(runs.rows[0]?.error).toMatch(/^DatabaseUnavailableError: Lost the connection to the database/);
    expect(runs.rows.slice(1).map((r) => `${r.layer}:${r.status}`)).toEqual([
      "silver:succeeded",
      "gold:succeeded",
    ]);
    const wf = await server.query("select status from ops.workflow_executions", [], "restart");
    expect(wf.rows).toEqual([{ status: "succeeded" }]);
    const notes = await server.query("select count(*)::int as n from ops.notifications", [], "restart");
    expect(notes.rows).toEqual([{ n: 0 }]);
    const views = await server.query(
      "select count(*)::int as n from gold.v_pipeline_runs where status in ('running', 'abandoned')",
      [],
      "restart",
    );
    expect(views.rows).toEqual([{ n: 0 }]);
  });

  it("records one notification, and fails, only when every attempt fails (a lock held throughout)", async () => {
    // Prepare: lock_timeout turns the held lock into an error on every attempt.
    const url = await ingested("stuck");
    const holder = await holdSilverLock(url);

    // Act
    const result = await weather(["transform", "--interval", INTERVAL, "--db", url, "--json"], {
      env: { DB_LOCK_TIMEOUT_MS: "300" },
    });
    await holder.end();

    // Assess
    expect(result.code, result.stderr).toBe(1);
    const doc = JSON.parse(result.stdout) as { status: string; failedState: string; retries: number };
    expect(doc).toMatchObject({ status: "failed", failedState: "Silver" });
    const runs = await server.query<{ status: string; error: string }>(
      "select status, error from ops.transform_runs",
      [],
      "stuck",
    );
    expect(runs.rows.length).toBe(doc.retries + 1);
    for (const r of runs.rows) {
      expect(r.status).toBe("failed");
      expect(r.error).toMatch(/lock timeout/);
    }
    const notes = await server.query("select count(*)::int as n from ops.notifications", [], "stuck");
    expect(notes.rows).toEqual([{ n: 1 }]);
  });
});
