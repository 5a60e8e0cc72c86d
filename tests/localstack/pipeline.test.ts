/**
 * The deployed system on LocalStack, hop by hop: the SST app (stage `local`) deployed with `sst deploy`
 * to LocalStack 4.13.1 in host mode, its Lambdas running as host processes through our `host-node`
 * executor, a throw-away Postgres database, and the weather simulator in this process (so tests can
 * inject faults). Tests run in order and share the deployment; each observes one hop; the last one
 * removes it with `npm run remove:local` (`sst remove --stage local`).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { CloudFormationClient, ListStacksCommand } from "@aws-sdk/client-cloudformation";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import {
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  type FilteredLogEvent,
  FilterLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { DisableRuleCommand, EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import {
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionUpdatedV2,
} from "@aws-sdk/client-lambda";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
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
  REPO_ROOT,
  STACKS,
} from "../../localstack/local-cloud.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";

const lambda = new LambdaClient(clientConfig);
const sfn = new SFNClient(clientConfig);
const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
const sqs = new SQSClient(clientConfig);
const sns = new SNSClient(clientConfig);
const cw = new CloudWatchClient(clientConfig);
const cwLogs = new CloudWatchLogsClient(clientConfig);
const events = new EventBridgeClient(clientConfig);
const secrets = new SecretsManagerClient(clientConfig);

// A key no code path could guess: ingest only gets 200s from the simulator if it read this from
// LocalStack Secrets Manager, and a log search for it must come back empty.
const OWM_KEY = `owm-${randomBytes(12).toString("hex")}`;
const suffix = randomBytes(4).toString("hex");
/** This deploy's execution names (LocalStack keeps other files' executions of the same machine). */
const EXECUTION_PREFIX = `t${suffix}-`;
const serverUrl = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
serverUrl.pathname = `/weather_ls_${suffix}`;
const databaseUrl = serverUrl.toString();

let sim: Simulator;
let cloud: LocalCloud;
let db: pg.Pool;
let queueUrl: string | undefined;
let deployed = false;
/** The hour the first scheduled ingest loaded; later hops replay the same interval. */
let interval: string;
let pipelineExecutionArn: string;
/** Log lines before it are other deploys' (the log group outlives a redeploy). */
let deployStartedAt = 0;

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
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(
    `Timed out after ${timeoutMs / 1000}s waiting for ${what}${lastError ? `: ${lastError}` : ""}`,
  );
}

interface SnsEnvelope {
  Subject?: string;
  Message: string;
  Timestamp: string;
}
const received: SnsEnvelope[] = [];

/** Drains the subscriber queue into `received` and returns the first message `match` accepts. */
async function snsMessage(what: string, match: (m: SnsEnvelope) => boolean, timeoutMs: number) {
  const seen = () => received.map((m) => m.Subject ?? m.Message.slice(0, 80)).join("; ");
  const found = waitFor(
    what,
    async () => {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      const messages = out.Messages ?? [];
      for (const m of messages) received.push(JSON.parse(m.Body ?? "{}") as SnsEnvelope);
      if (messages.length)
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      return received.find(match);
    },
    timeoutMs,
  );
  return found.catch((e: Error) => {
    throw new Error(`${e.message}; the subscriber received: ${seen() || "nothing"}`);
  });
}

interface AlarmNotice {
  AlarmName: string;
  NewStateValue: string;
  OldStateValue: string;
}
const alarmNotice = (m: SnsEnvelope): AlarmNotice | undefined => {
  try {
    const body = JSON.parse(m.Message) as Partial<AlarmNotice>;
    return body.AlarmName ? (body as AlarmNotice) : undefined;
  } catch {
    return undefined;
  }
};

async function alarmState(name: string): Promise<string | undefined> {
  const out = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }));
  return out.MetricAlarms?.[0]?.StateValue;
}

async function invokeIngest(
  event: object,
): Promise<{ sitesOk: number; sitesFailed: number; status: string }> {
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: cloud.functions.ingest.name, Payload: JSON.stringify(event) }),
  );
  const body = Buffer.from(out.Payload ?? []).toString();
  if (out.FunctionError) throw new Error(`ingest failed: ${body}`);
  return JSON.parse(body);
}

async function history(executionArn: string): Promise<HistoryEvent[]> {
  const out = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
  return out.events ?? [];
}

async function executions(stateMachineArn: string) {
  const out = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 100 }));
  return out.executions ?? [];
}

/** Every event of every log group in LocalStack (functions and state machines). */
async function allLogEvents(): Promise<FilteredLogEvent[]> {
  const groups = (await cwLogs.send(new DescribeLogGroupsCommand({}))).logGroups ?? [];
  const all: FilteredLogEvent[] = [];
  for (const g of groups) {
    let nextToken: string | undefined;
    do {
      const out = await cwLogs.send(new FilterLogEventsCommand({ logGroupName: g.logGroupName, nextToken }));
      all.push(...(out.events ?? []));
      nextToken = out.nextToken;
    } while (nextToken);
  }
  return all;
}

async function setIngestEnv(patch: Record<string, string>) {
  const conf = await lambda.send(
    new GetFunctionConfigurationCommand({ FunctionName: cloud.functions.ingest.name }),
  );
  await lambda.send(
    new UpdateFunctionConfigurationCommand({
      FunctionName: cloud.functions.ingest.name,
      Environment: { Variables: { ...conf.Environment?.Variables, ...patch } },
    }),
  );
  await waitUntilFunctionUpdatedV2(
    { client: lambda, maxWaitTime: 60 },
    { FunctionName: cloud.functions.ingest.name },
  );
}

beforeAll(async () => {
  sim = await startSimulator({ apiKey: OWM_KEY });
  await createDatabaseIfMissing(databaseUrl);
  await migrateDatabase(databaseUrl);
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  deployStartedAt = Date.now();
  cloud = await deployLocalCloud({
    databaseUrl,
    openWeatherKey: OWM_KEY,
    functionEnv: {
      SIMULATOR_URL: sim.url,
      OPEN_METEO_BASE_URL: sim.url,
      OPENWEATHER_BASE_URL: sim.url,
      // Five sites per Open-Meteo call, so one failing call fails 5 of 22 sites (23 %), not all.
      OPEN_METEO_BATCH_SIZE: "5",
      OPENWEATHER_CALLS_PER_MINUTE: "600",
    },
    noDataPeriods: 1,
    executionNamePrefix: EXECUTION_PREFIX,
  });
  deployed = true;
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: `weather-ls-alarms-${suffix}` }));
  queueUrl = queue.QueueUrl;
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  await sns.send(
    new SubscribeCommand({
      TopicArn: cloud.alarmTopicArn,
      Protocol: "sqs",
      Endpoint: attrs.Attributes?.QueueArn,
    }),
  );
}, 300_000);

afterAll(async () => {
  // Stop the schedule first so no function holds the database while it is dropped.
  if (deployed) await events.send(new DisableRuleCommand({ Name: cloud.scheduleRuleName })).catch(() => {});
  if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => {});
  await db?.end();
  await sim?.close();
  await dropDatabase(databaseUrl);
}, 60_000);

describe("the local stage deployed to LocalStack", () => {
  it("1. the schedule starts the hour's workflow, which ingests from the simulator in several shards", async () => {
    // Prepare: nothing is invoked by hand; the rate(1 minute) rule must do it. The function logs to
    // its explicit log group (LoggingConfig.LogGroup, honoured through localstack/venv-patches.py).
    const conf = await lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: cloud.functions.ingest.name }),
    );
    const logGroupName = String(conf.LoggingConfig?.LogGroup);
    expect(logGroupName).toBe("/aws/lambda/weather-dataops-local-ingest");
    // Act: wait for the first scheduled execution's ingest phase to complete.
    const lines = async (message: string) =>
      (
        (await cwLogs.send(new FilterLogEventsCommand({ logGroupName, startTime: deployStartedAt })))
          .events ?? []
      )
        .filter((e) => e.message?.includes(`"message":"${message}"`))
        .map((e) => JSON.parse(String(e.message)) as Record<string, unknown>);
    const completed = await waitFor(
      "a scheduled execution's CompleteIngestion",
      async () => (await lines("ingestion completed"))[0],
      180_000,
    );
    // Assess: 22 sites in shards of 5 (the local stage's), each shard its own invocation.
    expect(completed).toMatchObject({
      status: "succeeded",
      shards: 5,
      sitesOk: sites.length,
      failedShards: [],
    });
    interval = completed.interval as string;
    const shardLines = (await lines("ingestion shard finished")).filter((l) => l.interval === interval);
    expect(new Set(shardLines.map((l) => l.shard))).toEqual(new Set([1, 2, 3, 4, 5]));
    expect(sim.stats().byStatus["200"]).toBeGreaterThan(0);
  }, 190_000);

  it("2. raw objects appear in LocalStack S3, each shard's under its own run token, and the manifest apart", async () => {
    // This deploy's run (its own database): the bucket may also hold other deploys' objects of the hour.
    const { rows } = await db.query<{ raw_object_keys: string[] }>(
      "select raw_object_keys from ops.ingestion_runs where interval = $1",
      [interval],
    );
    expect(rows).toHaveLength(1);
    const keys = rows[0]?.raw_object_keys ?? [];
    // One execution per hour (the starter names it after the hour), so one token per shard.
    const tokens = new Set(keys.map((k) => /\/run=([^/]+)\//.exec(k)?.[1]));
    expect([...tokens].map((t) => /-shard-(\d{4})-of-0005$/.exec(String(t))?.[1]).sort()).toEqual([
      "0001",
      "0002",
      "0003",
      "0004",
      "0005",
    ]);
    // Five sites per shard and per Open-Meteo call: one first try per shard. The local stage's data is
    // labelled simulator, never open-meteo.
    expect(keys.filter((k) => k.endsWith("-try-01.json"))).toHaveLength(5);
    expect(keys.every((k) => k.startsWith(`source=simulator/date=${interval.slice(0, 10)}/`))).toBe(true);
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: cloud.rawBucket, Prefix: "source=simulator/" }),
    );
    const all = new Set((listed.Contents ?? []).map((o) => String(o.Key)));
    expect(keys.filter((k) => !all.has(k))).toEqual([]);
    expect([...all].some((k) => k.startsWith(`source=simulator/manifests/interval=${interval}/`))).toBe(true);
    const obj = await s3.send(new GetObjectCommand({ Bucket: cloud.rawBucket, Key: keys[0] }));
    expect((await obj.Body?.transformToString())?.length).toBeGreaterThan(100);
  });

  it("3. bronze rows appear in Postgres", async () => {
    const { rows } = await db.query<{ sites: number }>(
      "select count(distinct site_id)::int as sites from bronze.weather_observations where source = 'simulator'",
    );
    expect(rows[0]?.sites).toBe(sites.length);
  });

  it("each function reads its own database secret, which connects as its own role (migration 0080)", async () => {
    const roles = {
      ingest: "weather_ingest",
      transform: "weather_transform",
      checkQuality: "weather_checks",
      heal: "weather_heal",
    } as const;
    const arns = new Set<string>();
    for (const [key, role] of Object.entries(roles)) {
      const arn = cloud.functions[key as keyof typeof roles].environment.DATABASE_SECRET_ARN as string;
      arns.add(arn);
      const value = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));
      expect(new URL(JSON.parse(String(value.SecretString)).url).username, key).toBe(role);
    }
    expect(arns.size).toBe(4);
    // Bronze above was written by the ingest function as weather_ingest, which may not touch silver.
    const { rows } = await db.query<{ may: boolean }>(
      "select has_table_privilege('weather_ingest', 'silver.observations', 'insert') as may",
    );
    expect(rows[0]?.may).toBe(false);
  });

  it("4. the starter named the scheduled execution after the interval", async () => {
    const execution = await waitFor(
      "the pipeline execution the schedule started",
      async () =>
        (await executions(cloud.pipelineArn)).find((e) => e.name === `${EXECUTION_PREFIX}${interval}`),
      90_000,
    );
    const starters = await executions(cloud.starterArn);
    expect(starters.length).toBeGreaterThan(0);
    pipelineExecutionArn = String(execution.executionArn);
  }, 100_000);

  it("5. the Map ran every shard, then the silver Lambda ran and silver rows appear", async () => {
    const status = await waitFor(
      "the pipeline execution to finish",
      async () => {
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn: pipelineExecutionArn }));
        return d.status === "RUNNING" ? undefined : d.status;
      },
      120_000,
    );
    expect(status).toBe("SUCCEEDED");
    // The shard reports came back through the Map, and the ratio over all of them is 0.
    const done = await sfn.send(new DescribeExecutionCommand({ executionArn: pipelineExecutionArn }));
    const output = JSON.parse(String(done.output)) as {
      shards: { shard: number; status: string }[];
      ingestion: { siteFailureRatio: number; shards: number };
    };
    expect(output.shards.map((r) => r.shard).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(output.shards.every((r) => r.status === "succeeded")).toBe(true);
    expect(output.ingestion).toMatchObject({ siteFailureRatio: 0, shards: 5 });
    // The gate is visible: SilverChecks ran between Silver and Gold (GetExecutionHistory).
    const events = await history(pipelineExecutionArn);
    const phases = ["PlanIngest", "CompleteIngestion", "Silver", "SilverChecks", "Gold", "QualityChecks"];
    const entered = events
      .filter((e) => e.type === "TaskStateEntered")
      .map((e) => String(e.stateEnteredEventDetails?.name))
      .filter((n) => phases.includes(n));
    expect(entered).toEqual(phases);
    expect(events.some((e) => e.type === "MapStateEntered" || e.type === "MapRunStarted")).toBe(true);
    // The deployed definition carries the stage's time limits (core/workflow/time-limits.ts).
    const sm = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: cloud.pipelineArn }));
    const definition = JSON.parse(String(sm.definition));
    expect(definition.TimeoutSeconds).toBeGreaterThan(0);
    expect(definition.States.Silver.TimeoutSeconds).toBeGreaterThan(0);
    expect(definition.States.IngestShards.MaxConcurrency).toBe(2);
    const { rows } = await db.query<{ n: number }>("select count(*)::int as n from silver.observations");
    expect(rows[0]?.n).toBeGreaterThanOrEqual(sites.length);
  }, 130_000);

  it("6. the gold Lambda runs and gold rows appear", async () => {
    const { rows } = await db.query<{ n: number; status: string }>(
      "select count(*)::int as n from gold_internal.site_hourly",
    );
    expect(rows[0]?.n).toBeGreaterThanOrEqual(sites.length);
    const runs = await db.query<{ layer: string }>(
      "select distinct layer from ops.transform_runs where interval = $1 and status = 'succeeded' order by 1",
      [interval],
    );
    expect(runs.rows.map((r) => r.layer)).toEqual(["gold", "silver"]);
  });

  it("7. the checks Lambda runs the quality checks: silver at the gate, gold after Gold", async () => {
    const { rows } = await db.query<{ layers: string[] }>(
      "select layers from ops.quality_check_runs where interval = $1 order by run_id",
      [interval],
    );
    expect(rows.map((r) => r.layers)).toEqual([["silver"], ["gold"]]);
    // Plan, complete and the four transform and check steps (the shards run in the Map's children).
    const lambdaSucceeded = (await history(pipelineExecutionArn)).filter(
      (e) => e.type === "LambdaFunctionSucceeded",
    );
    expect(lambdaSucceeded.length).toBeGreaterThanOrEqual(6);
  });

  it("the same interval triggered twice yields one execution", async () => {
    const before = (await executions(cloud.starterArn)).length;
    const detail = JSON.stringify({ interval, runId: `duplicate-${suffix}`, status: "succeeded" });
    const entry = { Source: "weather-dataops.ingest", DetailType: "IngestionCompleted", Detail: detail };
    await events.send(new PutEventsCommand({ Entries: [entry] }));
    await events.send(new PutEventsCommand({ Entries: [entry] }));
    const starters = await waitFor(
      "two more starter executions to finish",
      async () => {
        const all = await executions(cloud.starterArn);
        const done = all.length >= before + 2 && all.every((e) => e.status !== "RUNNING");
        return done ? all : undefined;
      },
      60_000,
    );
    expect(starters.every((e) => e.status === "SUCCEEDED")).toBe(true);
    const forInterval = (await executions(cloud.pipelineArn)).filter(
      (e) => e.name === `${EXECUTION_PREFIX}${interval}`,
    );
    expect(forInterval).toHaveLength(1);
  }, 70_000);

  it("ingest reads the OpenWeatherMap key from LocalStack Secrets Manager, and no log shows it", async () => {
    // Prepare: switch the deployed function to OpenWeatherMap; its environment has no key at all.
    await setIngestEnv({ WEATHER_SOURCE: "openweather" });
    try {
      const conf = await lambda.send(
        new GetFunctionConfigurationCommand({ FunctionName: cloud.functions.ingest.name }),
      );
      expect(Object.values(conf.Environment?.Variables ?? {})).not.toContain(OWM_KEY);
      // Act
      const result = await invokeIngest({ interval });
      // Assess: the simulator answers 401 to any other key, so every site succeeding means the secret was read.
      expect(result).toMatchObject({ status: "succeeded", sitesOk: sites.length, sitesFailed: 0 });
    } finally {
      await setIngestEnv({ WEATHER_SOURCE: "simulator" });
    }
    const raw = await s3.send(
      new ListObjectsV2Command({ Bucket: cloud.rawBucket, Prefix: "source=openweather/" }),
    );
    expect(raw.KeyCount).toBeGreaterThan(0);
    const logEvents = await allLogEvents();
    // The search really covers the function logs: it finds the run that just used the key.
    expect(logEvents.some((e) => e.message?.includes('"source":"openweather"'))).toBe(true);
    expect(logEvents.filter((e) => e.message?.includes(OWM_KEY))).toEqual([]);
  }, 120_000);

  it("9a. a site failure ratio above 10 % drives SiteFailureRatio OK -> ALARM, delivered by SNS", async () => {
    const alarm = cloud.alarms["site-failure-ratio"] as string;
    await waitFor(
      "SiteFailureRatio to be OK",
      async () => ((await alarmState(alarm)) === "OK" ? true : undefined),
      90_000,
    );
    // Prepare: the Open-Meteo call that carries the first site fails (5 xx on every retry).
    const first = sites[0] as { lat: number; lon: number };
    sim.setFaults([
      {
        api: "open-meteo",
        at: { lat: first.lat, lon: first.lon },
        fault: { kind: "server-error", status: 503 },
      },
    ]);
    try {
      // Act
      const result = await invokeIngest({ interval });
      expect(result.sitesFailed / sites.length).toBeGreaterThan(0.1);
      expect(result.sitesOk).toBeGreaterThan(0);
      // Assess
      const notice = await snsMessage(
        "the SiteFailureRatio ALARM notification",
        (m) => alarmNotice(m)?.AlarmName === alarm && alarmNotice(m)?.NewStateValue === "ALARM",
        150_000,
      );
      expect(alarmNotice(notice)).toMatchObject({ OldStateValue: "OK", NewStateValue: "ALARM" });
    } finally {
      sim.setFaults([]);
    }
  }, 260_000);

  it("8. a transform failure is retried, then caught, and the SNS notice reaches an SQS subscriber", async () => {
    // Prepare: stop ingestion (also the start of the no-data test below) and take the database away the
    // way an outage does: no new connections, existing sessions ended.
    await events.send(new DisableRuleCommand({ Name: cloud.scheduleRuleName }));
    const name = new URL(databaseUrl).pathname.slice(1);
    const admin = new pg.Client({ connectionString: databaseUrl.replace(`/${name}`, "/postgres") });
    await admin.connect();
    let executionArn: string;
    try {
      await admin.query(`alter database "${name}" allow_connections false`);
      await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1", [name]);
      // Act
      const started = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: cloud.pipelineArn,
          name: `forced-failure-${suffix}`,
          input: JSON.stringify({ interval }),
        }),
      );
      executionArn = String(started.executionArn);
      const status = await waitFor(
        "the forced-failure execution to finish",
        async () => {
          const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
          return d.status === "RUNNING" ? undefined : d.status;
        },
        120_000,
      );
      expect(status).toBe("FAILED");
    } finally {
      await admin.query(`alter database "${name}" allow_connections true`);
      await admin.end();
      await db.end();
      db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    }
    // Assess: four Silver attempts (1 + 3 retries), then the Catch path through NotifyFailure.
    const events_ = await history(executionArn);
    expect(events_.filter((e) => e.type === "LambdaFunctionFailed")).toHaveLength(4);
    // Each attempt was told its retry count ($$.State.RetryCount), which the handler logs and counts.
    const retryCounts = events_
      .filter((e) => e.type === "LambdaFunctionScheduled")
      .map((e) => JSON.parse(String(e.lambdaFunctionScheduledEventDetails?.input)).retryCount);
    expect(retryCounts).toEqual([0, 1, 2, 3]);
    const entered = events_
      .filter((e) => String(e.type).endsWith("StateEntered"))
      .map((e) => e.stateEnteredEventDetails?.name);
    // `{ interval }` alone (a replay's IngestionCompleted): the route goes straight to the transforms.
    expect(entered).toEqual(["Route", "Silver", "SilverFailed", "NotifyFailure", "Failed"]);
    const notice = await snsMessage(
      "the workflow failure notification",
      (m) => m.Subject === "weather-dataops workflow failed" && m.Message.includes(interval),
      60_000,
    );
    expect(JSON.parse(notice.Message)).toMatchObject({ interval, failedState: "Silver" });
  }, 200_000);

  it("9b. with ingestion stopped, the no-data alarm goes OK -> ALARM and SNS delivers it", async () => {
    // Prepare: the rule was disabled by the previous test; the last observations were loaded before.
    const alarm = cloud.alarms["no-observations"] as string;
    // Act + Assess: LocalStack evaluates a 1 x 1 min alarm every minute over the last 3 minutes.
    const notice = await snsMessage(
      "the NoObservations ALARM notification",
      (m) => alarmNotice(m)?.AlarmName === alarm && alarmNotice(m)?.OldStateValue === "OK",
      300_000,
    );
    expect(alarmNotice(notice)?.NewStateValue).toBe("ALARM");
  }, 310_000);

  it("npm run remove:local (sst remove --stage local) leaves no stack of the app behind", async () => {
    // Act: the user's command, as a user runs it.
    const removed = spawnSync("npm", ["run", "-s", "remove:local"], { cwd: REPO_ROOT, encoding: "utf8" });
    // Assess: exit 0, and CloudFormation knows neither stack any more (not even as failed).
    expect(removed.status, removed.stderr).toBe(0);
    const live = await new CloudFormationClient(clientConfig).send(new ListStacksCommand({}));
    const left = (live.StackSummaries ?? []).filter(
      (st) => Object.values(STACKS).includes(st.StackName as never) && st.StackStatus !== "DELETE_COMPLETE",
    );
    expect(left).toEqual([]);
    deployed = false;
  }, 180_000);
});
