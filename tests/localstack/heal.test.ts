/**
 * The daily heal on LocalStack: the local stage deployed with its heal rule overridden to
 * `rate(1 minute)` over a one-day window (`-c healSchedule -c healDays`, test-only settings), the
 * simulator serving both APIs in this process and a throw-away database. Nothing is invoked by hand:
 * the rule fires the heal Lambda, which fills the last day from the simulator's history; then one
 * site's hour is deleted from bronze, silver and gold, and the next scheduled heal must refill exactly
 * that hour. The ingest rule (every minute on the local stage) stays on, as in production: it fills
 * the current hour, so an hour that completes during the test is no gap.
 */
import { randomBytes } from "node:crypto";
import { CloudWatchLogsClient, FilterLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import {
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  EventBridgeClient,
} from "@aws-sdk/client-eventbridge";
import { GetFunctionConfigurationCommand, LambdaClient } from "@aws-sdk/client-lambda";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sites from "../../config/sites.json" with { type: "json" };
import {
  clientConfig,
  createDatabaseIfMissing,
  deployLocalCloud,
  dropDatabase,
  type LocalCloud,
  migrateDatabase,
} from "../../localstack/local-cloud.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";

const lambda = new LambdaClient(clientConfig);
const cwLogs = new CloudWatchLogsClient(clientConfig);
const events = new EventBridgeClient(clientConfig);

const suffix = randomBytes(4).toString("hex");
const serverUrl = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
serverUrl.pathname = `/weather_ls_heal_${suffix}`;
const databaseUrl = serverUrl.toString();
const HEAL_LOG_GROUP = "/aws/lambda/weather-dataops-local-heal";

let sim: Simulator;
let cloud: LocalCloud;
let db: pg.Pool;
let deployed = false;

interface HealFinished {
  window: { from: string; to: string; days: number };
  siteHoursMissingBefore: number;
  siteHoursFilled: number;
  gapsRemaining: number;
  requests: number;
  transform: string;
  failed: boolean;
  timestamp: string;
}

/** Polls `probe` until it returns a value other than undefined, or fails with `what`. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      lastError = e;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  throw new Error(
    `Timed out after ${timeoutMs / 1000}s waiting for ${what}${lastError ? `: ${lastError}` : ""}`,
  );
}

/** The heal function's "heal finished" lines logged since `since`, oldest first. */
async function healRuns(since: number): Promise<HealFinished[]> {
  const out: HealFinished[] = [];
  let nextToken: string | undefined;
  do {
    const page = await cwLogs.send(
      new FilterLogEventsCommand({ logGroupName: HEAL_LOG_GROUP, startTime: since, nextToken }),
    );
    for (const e of page.events ?? [])
      if (e.message?.includes('"message":"heal finished"')) out.push(JSON.parse(e.message) as HealFinished);
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

/**
 * The heal's own bulk transform runs (mode range, trigger heal) that succeeded for both layers over a
 * window holding `hour`, started after `since`. The hourly pipeline (the ingest rule stays on) may
 * transform the same rows too; these rows say the heal did.
 */
async function healTransforms(hour: string, since: Date): Promise<string[]> {
  const { rows } = await db.query<{ layer: string }>(
    `select distinct layer from ops.transform_runs
     where mode = 'range' and trigger = 'heal' and status = 'succeeded' and started_at > $2
       and window_start <= ($1 || ':00:00Z')::timestamptz and ($1 || ':00:00Z')::timestamptz < window_end
     order by layer`,
    [hour, since],
  );
  return rows.map((r) => r.layer);
}

beforeAll(async () => {
  sim = await startSimulator();
  await createDatabaseIfMissing(databaseUrl);
  await migrateDatabase(databaseUrl);
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  cloud = await deployLocalCloud({
    databaseUrl,
    openWeatherKey: "local-dummy-key",
    functionEnv: {
      SIMULATOR_URL: sim.url,
      OPEN_METEO_BASE_URL: sim.url,
      OPEN_METEO_ARCHIVE_URL: sim.url,
      OPENWEATHER_BASE_URL: sim.url,
    },
    healSchedule: "rate(1 minute)",
    healDays: 1,
    // The hourly workflow's executions apart from the other files' deploys of this stage.
    executionNamePrefix: `h${suffix}-`,
  });
  deployed = true;
  // A suite that ran before may have disabled it; a redeploy with an unchanged rule leaves it so.
  await events.send(new EnableRuleCommand({ Name: cloud.scheduleRuleName }));
}, 300_000);

afterAll(async () => {
  // Stop the schedules first so no function holds the database while it is dropped.
  for (const name of deployed ? [cloud.healRuleName, cloud.scheduleRuleName] : [])
    await events.send(new DisableRuleCommand({ Name: name })).catch(() => {});
  await db?.end();
  await sim?.close();
  await dropDatabase(databaseUrl);
}, 60_000);

describe("the daily heal deployed to LocalStack (schedule overridden to one minute)", () => {
  let first: HealFinished;
  const site = sites[3]?.id as string;
  let hour: string;
  let deleted: { temperature_c: number | null; humidity_pct: number | null; raw_object_key: string };

  it("1. the heal rule fires the heal Lambda on its own, with the rule's { days } input", async () => {
    const rule = await events.send(new DescribeRuleCommand({ Name: cloud.healRuleName }));
    expect(rule).toMatchObject({ ScheduleExpression: "rate(1 minute)", State: "ENABLED" });
    const conf = await lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: cloud.functions.heal.name }),
    );
    expect(conf.LoggingConfig?.LogGroup).toBe(HEAL_LOG_GROUP);

    first = await waitFor("a scheduled heal run", async () => (await healRuns(0))[0], 180_000);

    expect(first.window.days).toBe(1);
    // An empty database: every site-hour of the day was missing (but the last hour, when the hour
    // turned after a live ingest).
    expect(first.siteHoursMissingBefore).toBeGreaterThanOrEqual(23 * sites.length);
    expect(first.siteHoursMissingBefore).toBeLessThanOrEqual(24 * sites.length);
  }, 190_000);

  it("2. that heal filled the whole day from the simulator's history, into bronze, silver and gold", async () => {
    expect(first).toMatchObject({
      siteHoursFilled: first.siteHoursMissingBefore,
      gapsRemaining: 0,
      failed: false,
    });
    expect(first.transform).toBe("succeeded");
    expect(await healTransforms(first.window.from, new Date(0))).toEqual(["gold", "silver"]);
    expect(await healTransforms(first.window.to, new Date(0))).toEqual(["gold", "silver"]);
    const count = async (sql: string) =>
      (await db.query<{ n: number }>(sql, [first.window.from, first.window.to])).rows[0]?.n;
    const inWindow = "hour between ($1 || ':00:00Z')::timestamptz and ($2 || ':00:00Z')::timestamptz";
    expect(
      await count(
        `select count(distinct (site_id, date_trunc('hour', observed_at)))::int as n
         from bronze.weather_observations
         where observed_at >= ($1 || ':00:00Z')::timestamptz and observed_at < ($2 || ':00:00Z')::timestamptz + interval '1 hour'`,
      ),
    ).toBe(24 * sites.length);
    expect(await count(`select count(*)::int as n from silver.observations where ${inWindow}`)).toBe(
      24 * sites.length,
    );
    expect(await count(`select count(*)::int as n from gold_internal.site_hourly where ${inWindow}`)).toBe(
      24 * sites.length,
    );
  });

  it("3. an hour deleted from bronze, silver and gold is refilled by the next scheduled heal, and only it", async () => {
    // Prepare: an hour well inside the one-day window for the next 20 hours.
    const { rows } = await db.query<{ hour: string }>(
      "select to_char(($1 || ':00:00Z')::timestamptz - interval '3 hours', 'YYYY-MM-DD\"T\"HH24') as hour",
      [first.window.to],
    );
    hour = rows[0]?.hour as string;
    const at = `${hour}:00:00Z`;
    const client = await db.connect();
    try {
      // One transaction: a heal reading coverage meanwhile sees the hour either whole or gone.
      await client.query("begin");
      const before = await client.query(
        `delete from bronze.weather_observations
         where site_id = $1 and observed_at >= $2::timestamptz and observed_at < $2::timestamptz + interval '1 hour'
         returning temperature_c, humidity_pct, raw_object_key`,
        [site, at],
      );
      expect(before.rowCount).toBeGreaterThan(0);
      deleted = before.rows[0];
      for (const table of [
        "silver.observations",
        "gold_internal.site_hourly",
        "gold_internal.site_temperature_moving_avg",
      ]) {
        const r = await client.query(`delete from ${table} where site_id = $1 and hour = $2::timestamptz`, [
          site,
          at,
        ]);
        expect(r.rowCount, table).toBe(1);
      }
      await client.query("commit");
    } catch (e) {
      await client.query("rollback");
      throw e;
    } finally {
      client.release();
    }
    const deletedAt = Date.now();
    const dbNow = (await db.query<{ now: Date }>("select now()")).rows[0]?.now as Date;

    // Act: nothing but the schedule; wait for a heal that saw the gap.
    const healed = await waitFor(
      "a scheduled heal that found the deleted hour",
      async () =>
        (await healRuns(deletedAt)).find(
          // By the line's own time: LocalStack stamps log events when the invocation's logs arrive.
          (r) => Date.parse(r.timestamp) > deletedAt && r.siteHoursMissingBefore > 0,
        ),
      180_000,
    );

    // Assess: exactly one site-hour was missing and it was filled, with one request.
    expect(healed).toMatchObject({
      siteHoursMissingBefore: 1,
      siteHoursFilled: 1,
      gapsRemaining: 0,
      requests: 1,
      transform: "succeeded",
      failed: false,
    });
    const bronze = await db.query<{
      temperature_c: number | null;
      humidity_pct: number | null;
      raw_object_key: string;
      ingestion_run_id: string;
    }>(
      `select temperature_c, humidity_pct, raw_object_key, ingestion_run_id from bronze.weather_observations
       where site_id = $1 and observed_at >= $2::timestamptz and observed_at < $2::timestamptz + interval '1 hour'`,
      [site, at],
    );
    expect(bronze.rows).toHaveLength(1);
    const row = bronze.rows[0] as (typeof bronze.rows)[number];
    // The simulator is deterministic: the same values, from a new raw history object.
    expect({ temperature_c: row.temperature_c, humidity_pct: row.humidity_pct }).toEqual({
      temperature_c: deleted.temperature_c,
      humidity_pct: deleted.humidity_pct,
    });
    expect(row.raw_object_key).not.toBe(deleted.raw_object_key);
    // The heal itself rebuilt silver and gold over that hour, in one bulk run per layer.
    expect(await healTransforms(hour, dbNow)).toEqual(["gold", "silver"]);
    // The refill's run wrote that one row and nothing else.
    const written = await db.query<{ n: number }>(
      "select count(*)::int as n from bronze.weather_observations where ingestion_run_id = $1",
      [row.ingestion_run_id],
    );
    expect(written.rows[0]?.n).toBe(1);
    for (const table of [
      "silver.observations",
      "gold_internal.site_hourly",
      "gold_internal.site_temperature_moving_avg",
    ]) {
      const r = await db.query<{ n: number }>(
        `select count(*)::int as n from ${table} where site_id = $1 and hour = $2::timestamptz`,
        [site, at],
      );
      expect(r.rows[0]?.n, table).toBe(1);
    }
  }, 200_000);
});
