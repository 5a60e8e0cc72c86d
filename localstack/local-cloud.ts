/**
 * Deploys the plain CDK app (stage `local`) to a running LocalStack and finds what it created. Shared
 * by `npm run local:up` (localstack/up.ts) and the LocalStack suite (tests/localstack/pipeline.test.ts).
 *
 * Steps of {@link deployLocalCloud}:
 * 1. synthesize once into a scratch assembly directory (bundles the four functions);
 * 2. `cdk bootstrap` from that assembly (LocalStack keeps no state across restarts);
 * 3. deploy the stateful stack alone, then store the database URL and the OpenWeatherMap key in its
 *    secrets, and only then deploy the stateless stack — so the very first scheduled ingest already
 *    reads real secrets instead of the placeholder values CloudFormation generated;
 * 4. discover the deployed resources through the service APIs.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListRuleNamesByTargetCommand,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import { GetFunctionConfigurationCommand, LambdaClient, ListFunctionsCommand } from "@aws-sdk/client-lambda";
import {
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { ListStateMachinesCommand, SFNClient } from "@aws-sdk/client-sfn";
import pg from "pg";
import { settingsFor } from "../stacks/settings.ts";

const run = promisify(execFile);

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const STAGE = "local";
export const PREFIX = `weather-dataops-${STAGE}`;
export const STACKS = { stateful: `${PREFIX}-stateful`, stateless: `${PREFIX}-stateless` } as const;
export const ACCOUNT = "000000000000";
export const REGION = "us-east-1";
export const ENDPOINT = `http://127.0.0.1:${process.env.LOCALSTACK_PORT ?? "4566"}`;
export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/weather_local";

/** SDK client settings for LocalStack: loopback endpoint, fake credentials, one region. */
export const clientConfig = {
  endpoint: ENDPOINT,
  region: REGION,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
};

/** The environment the CDK CLI needs to target LocalStack instead of AWS (no cdklocal). */
function cdkEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? "C.UTF-8",
    AWS_ENDPOINT_URL: ENDPOINT,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    CDK_DISABLE_VERSION_CHECK: "1",
  };
}

export class LocalDeployError extends Error {
  override name = "LocalDeployError";
}

async function cdk(args: string[], log: (line: string) => void): Promise<void> {
  const bin = path.join(REPO_ROOT, "node_modules/.bin/cdk");
  try {
    await run(bin, [...args, "--no-notices", "--ci"], {
      cwd: REPO_ROOT,
      env: cdkEnv(),
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    const tail = `${err.stdout ?? ""}\n${err.stderr ?? ""}`.trim().split("\n").slice(-30).join("\n");
    throw new LocalDeployError(
      `cdk ${args[0]} failed against LocalStack; is it running (npm run local:start)? Last output:\n${tail}`,
    );
  }
  log(`cdk ${args.slice(0, 2).join(" ")}: ok`);
}

/** The server's maintenance database URL and the target database's name, from a database URL. */
function splitDatabaseUrl(url: string): { admin: string; name: string } {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new LocalDeployError(`Database name "${name}" in ${url}: use letters, digits and underscores.`);
  u.pathname = "/postgres";
  return { admin: u.toString(), name };
}

async function withAdmin<T>(url: string, fn: (client: pg.Client, name: string) => Promise<T>): Promise<T> {
  const { admin, name } = splitDatabaseUrl(url);
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    return await fn(client, name);
  } finally {
    await client.end();
  }
}

/** Creates the database of `url` on its server when missing; returns true when it was created. */
export async function createDatabaseIfMissing(url: string): Promise<boolean> {
  return withAdmin(url, async (client, name) => {
    const found = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (found.rowCount) return false;
    await client.query(`create database "${name}"`);
    return true;
  });
}

/** Drops the database of `url`, ending the sessions functions still hold on it. */
export async function dropDatabase(url: string): Promise<void> {
  await withAdmin(url, async (client, name) => {
    await client.query(`drop database if exists "${name}" with (force)`);
  });
}

/** Applies the SQL migrations with the project's own command (Lambdas never migrate). */
export async function migrateDatabase(url: string): Promise<void> {
  await run(process.execPath, [path.join(REPO_ROOT, "bin/weather.js"), "migrate", "--db", url, "--json"], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: url },
  });
}

export interface DeployOptions {
  databaseUrl: string;
  /** Stored in the OpenWeatherMap key secret (only read when WEATHER_SOURCE=openweather). */
  openWeatherKey: string;
  /** Extra variables for every function, e.g. the simulator's base URLs. */
  functionEnv: Record<string, string>;
  /** `-c noDataPeriods=N` (see stacks/settings.ts); the stage preset when omitted. */
  noDataPeriods?: number;
  /** `-c healSchedule=...` and `-c healDays=N`: the LocalStack suite's heal fires every minute. */
  healSchedule?: string;
  healDays?: number;
  log?: (line: string) => void;
}

/** Deploys both stacks to LocalStack (see the module header for the order) and returns what exists. */
export async function deployLocalCloud(opts: DeployOptions): Promise<LocalCloud> {
  const log = opts.log ?? (() => {});
  const assembly = mkdtempSync(path.join(tmpdir(), "weather-cdk-"));
  try {
    const context = [
      ...["-c", `stage=${STAGE}`, "-c", "nag=false"],
      // The functions call back into this LocalStack wherever it listens (LOCALSTACK_PORT), not the
      // local stage's default 4566: two clones can each run a LocalStack suite at once.
      ...["-c", `functionEnv=${JSON.stringify({ AWS_ENDPOINT_URL: ENDPOINT, ...opts.functionEnv })}`],
      ...(opts.noDataPeriods ? ["-c", `noDataPeriods=${opts.noDataPeriods}`] : []),
      ...(opts.healSchedule ? ["-c", `healSchedule=${opts.healSchedule}`] : []),
      ...(opts.healDays ? ["-c", `healDays=${opts.healDays}`] : []),
    ];
    await cdk(["synth", "--all", "--quiet", "--output", assembly, ...context], log);
    await cdk(["bootstrap", `aws://${ACCOUNT}/${REGION}`, "--app", assembly], log);
    const deploy = (stack: string) =>
      cdk(["deploy", stack, "--app", assembly, "--exclusively", "--require-approval", "never"], log);
    await deploy(STACKS.stateful);
    const secrets = await findSecrets();
    const sm = new SecretsManagerClient(clientConfig);
    await sm.send(
      new PutSecretValueCommand({
        SecretId: secrets.database,
        SecretString: JSON.stringify({ url: opts.databaseUrl }),
      }),
    );
    await sm.send(
      new PutSecretValueCommand({ SecretId: secrets.openWeather, SecretString: opts.openWeatherKey }),
    );
    log("secrets: database URL and OpenWeatherMap key stored");
    await deploy(STACKS.stateless);
    const cloud = await discoverLocalCloud();
    const defaults = settingsFor(STAGE).heal;
    await reconcileHealRule(cloud.healRuleName, {
      schedule: opts.healSchedule ?? defaults.schedule,
      days: opts.healDays ?? defaults.days,
    });
    return cloud;
  } finally {
    rmSync(assembly, { recursive: true, force: true });
  }
}

/**
 * LocalStack 4.13.1's CloudFormation leaves an existing AWS::Events::Rule's ScheduleExpression and its
 * target's Input as they were when a stack update changes them (seen in CI: the heal suite deployed over
 * the pipeline suite's stack kept `cron(35 3 * * ? *)`). Whatever deployed last, the rule gets what this
 * deployment asked for, through the same API CloudFormation would call.
 */
async function reconcileHealRule(name: string, want: { schedule: string; days: number }): Promise<void> {
  const eventBridge = new EventBridgeClient(clientConfig);
  const rule = await eventBridge.send(new DescribeRuleCommand({ Name: name }));
  if (rule.ScheduleExpression !== want.schedule) {
    await eventBridge.send(
      new PutRuleCommand({
        Name: name,
        ScheduleExpression: want.schedule,
        State: rule.State,
        Description: rule.Description,
      }),
    );
  }
  const targets = (await eventBridge.send(new ListTargetsByRuleCommand({ Rule: name }))).Targets ?? [];
  const input = JSON.stringify({ days: want.days });
  const stale = targets.filter((t) => t.Input === undefined || JSON.stringify(JSON.parse(t.Input)) !== input);
  if (stale.length > 0)
    await eventBridge.send(
      new PutTargetsCommand({
        Rule: name,
        Targets: stale.map((t) => ({ Id: t.Id, Arn: t.Arn, Input: input })),
      }),
    );
}

/** The two secrets of the stateful stack, by the logical ids CDK puts into their names. */
async function findSecrets(): Promise<{ database: string; openWeather: string }> {
  const out = await new SecretsManagerClient(clientConfig).send(new ListSecretsCommand({ MaxResults: 100 }));
  const find = (part: string) => {
    const arn = out.SecretList?.find(
      (s) => s.Name?.startsWith(STACKS.stateful.slice(0, 20)) && s.Name.includes(part),
    )?.ARN;
    if (!arn) throw new LocalDeployError(`No ${part} secret of ${STACKS.stateful}; did its deploy succeed?`);
    return arn;
  };
  return { database: find("DatabaseUrl"), openWeather: find("OpenWeatherApiKey") };
}

export interface DeployedFunction {
  name: string;
  arn: string;
  environment: Record<string, string>;
}

export interface LocalCloud {
  functions: {
    ingest: DeployedFunction;
    transform: DeployedFunction;
    checkQuality: DeployedFunction;
    heal: DeployedFunction;
  };
  pipelineArn: string;
  starterArn: string;
  scheduleRuleName: string;
  /** The daily heal's rule (the suite deploys it as `rate(1 minute)`). */
  healRuleName: string;
  alarmTopicArn: string;
  rawBucket: string;
  databaseSecretArn: string;
  openWeatherSecretArn: string;
  /** Alarm names by their runbook suffix, e.g. `site-failure-ratio`. */
  alarms: Record<string, string>;
}

/** Finds the deployed resources of the local stage through the service APIs (no stack outputs needed). */
export async function discoverLocalCloud(): Promise<LocalCloud> {
  const lambda = new LambdaClient(clientConfig);
  const listed = await lambda.send(new ListFunctionsCommand({ MaxItems: 200 }));
  const fn = async (logicalId: string): Promise<DeployedFunction> => {
    const f = listed.Functions?.find(
      (x) =>
        x.FunctionName?.startsWith(PREFIX.slice(0, 20)) && x.FunctionName.includes(`Pipeline${logicalId}`),
    );
    if (!f?.FunctionName || !f.FunctionArn)
      throw new LocalDeployError(`Function ${logicalId} of ${STACKS.stateless} not found; deploy first.`);
    const conf = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: f.FunctionName }));
    return { name: f.FunctionName, arn: f.FunctionArn, environment: conf.Environment?.Variables ?? {} };
  };
  const functions = {
    ingest: await fn("Ingest"),
    transform: await fn("Transform"),
    checkQuality: await fn("CheckQuality"),
    heal: await fn("Heal"),
  };
  const machines = await new SFNClient(clientConfig).send(new ListStateMachinesCommand({}));
  const machine = (name: string) => {
    const arn = machines.stateMachines?.find((m) => m.name === name)?.stateMachineArn;
    if (!arn) throw new LocalDeployError(`State machine ${name} not found; deploy first.`);
    return arn;
  };
  const eventBridge = new EventBridgeClient(clientConfig);
  const ruleOf = async (f: DeployedFunction, what: string) => {
    const rules = await eventBridge.send(new ListRuleNamesByTargetCommand({ TargetArn: f.arn }));
    const name = rules.RuleNames?.[0];
    if (!name) throw new LocalDeployError(`No schedule rule targets the ${what} function.`);
    return name;
  };
  const scheduleRuleName = await ruleOf(functions.ingest, "ingest");
  const healRuleName = await ruleOf(functions.heal, "heal");
  const alarmsOut = await new CloudWatchClient(clientConfig).send(
    new DescribeAlarmsCommand({ AlarmNamePrefix: `${PREFIX}-` }),
  );
  const alarms = Object.fromEntries(
    (alarmsOut.MetricAlarms ?? []).map((a) => [
      String(a.AlarmName).slice(PREFIX.length + 1),
      String(a.AlarmName),
    ]),
  );
  const env = functions.ingest.environment;
  const required = (key: string) => {
    const v = env[key];
    if (!v) throw new LocalDeployError(`The ingest function lacks ${key}; redeploy the stateless stack.`);
    return v;
  };
  return {
    functions,
    pipelineArn: machine(`${PREFIX}-pipeline`),
    starterArn: machine(`${PREFIX}-start-pipeline`),
    scheduleRuleName,
    healRuleName,
    alarmTopicArn: required("ALARM_TOPIC_ARN"),
    rawBucket: required("RAW_STORE")
      .replace(/^s3:\/\//, "")
      .split("/")[0] as string,
    databaseSecretArn: required("DATABASE_SECRET_ARN"),
    openWeatherSecretArn: required("OPENWEATHER_SECRET_ARN"),
    alarms,
  };
}
