/**
 * Deploys the SST app (stage `local`) to a running LocalStack and finds what it created. Shared by
 * `npm run local:up` / `deploy:local` (localstack/up.ts), `remove:local` (localstack/remove.ts) and the
 * LocalStack suite (tests/localstack/).
 *
 * Steps of {@link deployLocalCloud}:
 * 1. `sst build --stage local` once into a scratch directory (bundles the four functions; on a fresh
 *    LocalStack SST first deploys its bootstrap stacks, CDKToolkit and SSTBootstrap);
 * 2. `sst deploy --from <that> Data` — the stateful stack alone — then store the owner's database URL,
 *    each function's URL with its own database role (and let those roles log in) and the
 *    OpenWeatherMap key in its secrets, and only then `sst deploy --from <that> Pipeline` — so the very
 *    first scheduled ingest already reads real secrets instead of the placeholders CloudFormation made;
 * 3. check each stack really is complete (SST exits 0 when it skips a stack whose creation failed)
 *    and read its outputs.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify, stripVTControlCharacters } from "node:util";
import {
  CloudFormationClient,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  type Stack,
} from "@aws-sdk/client-cloudformation";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import { GetFunctionConfigurationCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import pg from "pg";
import { FUNCTION_DATABASE_ROLES } from "../stacks/constructs/stateful.ts";
import { CONTEXT_FROM_ENV, settingsFor } from "../stacks/settings.ts";

const run = promisify(execFile);

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const STAGE = "local";
/** The prefix of the names the stacks set themselves (state machines, alarms, log groups). */
export const PREFIX = `weather-dataops-${STAGE}`;
/** SST's stack names: `<stage>-<app>-<stack function>`. */
export const STACKS = {
  stateful: `${STAGE}-weather-dataops-Data`,
  stateless: `${STAGE}-weather-dataops-Pipeline`,
} as const;
export const REGION = "us-east-1";
export const ENDPOINT = `http://127.0.0.1:${process.env.LOCALSTACK_PORT ?? "4566"}`;
export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/weather_local";

/** SDK client settings for LocalStack: loopback endpoint, fake credentials, one region. */
export const clientConfig = {
  endpoint: ENDPOINT,
  region: REGION,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
};

export class LocalDeployError extends Error {
  override name = "LocalDeployError";
}

/** The stack knobs of stacks/settings.ts, passed to `sst.config.ts` through its environment. */
export interface StackKnobs {
  /** Extra variables for every function, e.g. the simulator's base URLs. */
  functionEnv?: Record<string, string>;
  /** No-data alarm periods (see stacks/settings.ts); the stage preset when omitted. */
  noDataPeriods?: number;
  /** The daily heal's rule: the LocalStack suite's heal fires every minute. */
  healSchedule?: string;
  healDays?: number;
  /** Execution names apart per deploy (stacks/settings.ts `executionNamePrefix`): the suite's files. */
  executionNamePrefix?: string;
}

/**
 * The environment `sst` needs to target LocalStack instead of AWS: the endpoint, fake credentials, no
 * telemetry or version checks, `CI` (no prompt when a stage last ran in `sst dev`), and the knobs.
 */
export function sstEnv(knobs: StackKnobs = {}): NodeJS.ProcessEnv {
  const context: Record<keyof typeof CONTEXT_FROM_ENV, string | undefined> = {
    rds: undefined,
    alarmEmail: undefined,
    // The functions call back into this LocalStack wherever it listens (LOCALSTACK_PORT), not the
    // local stage's default 4566: two clones can each run a LocalStack suite at once.
    functionEnv: JSON.stringify({ AWS_ENDPOINT_URL: ENDPOINT, ...knobs.functionEnv }),
    noDataPeriods: knobs.noDataPeriods?.toString(),
    healSchedule: knobs.healSchedule,
    healDays: knobs.healDays?.toString(),
    executionNamePrefix: knobs.executionNamePrefix,
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? "C.UTF-8",
    AWS_ENDPOINT_URL: ENDPOINT,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    CDK_DISABLE_VERSION_CHECK: "1",
    SST_TELEMETRY_DISABLED: "1",
    NO_COLOR: "1",
    CI: "true",
  };
  for (const [key, variable] of Object.entries(CONTEXT_FROM_ENV)) {
    const value = context[key as keyof typeof CONTEXT_FROM_ENV];
    if (value !== undefined) env[variable] = value;
  }
  return env;
}

/**
 * The knobs `npm run deploy:local` (local:up) and `npm run dev:local` deploy with, from their
 * environment: both must pass the same ones, or `sst dev` redeploys the stacks differently.
 * SIMULATOR_URL (default http://127.0.0.1:$SIMULATOR_PORT, port 8787 as in scripts/local-up.sh),
 * WEATHER_NO_DATA_PERIODS (default 1 here: see
 * stacks/settings.ts, with LocalStack's evaluator this fires 3-4 minutes after ingestion stops),
 * WEATHER_HEAL_SCHEDULE, WEATHER_HEAL_DAYS.
 */
export function knobsFromEnv(env: NodeJS.ProcessEnv = process.env): StackKnobs & { simulatorUrl: string } {
  const simulatorUrl = env.SIMULATOR_URL || `http://127.0.0.1:${env.SIMULATOR_PORT || 8787}`;
  return {
    simulatorUrl,
    functionEnv: {
      SIMULATOR_URL: simulatorUrl,
      OPEN_METEO_BASE_URL: simulatorUrl,
      OPENWEATHER_BASE_URL: simulatorUrl,
    },
    noDataPeriods: Number(env.WEATHER_NO_DATA_PERIODS || 1),
    healSchedule: env.WEATHER_HEAL_SCHEDULE || undefined,
    healDays: env.WEATHER_HEAL_DAYS ? Number(env.WEATHER_HEAL_DAYS) : undefined,
  };
}

export interface SstRun {
  /** Also copy SST's output to this process's stderr as it comes (the npm scripts). */
  echo?: boolean;
  log?: (line: string) => void;
}

/**
 * Runs `sst <args> --stage local` against LocalStack. A non-zero exit throws with the output's tail;
 * an exit 0 proves nothing (SST swallows some failures), so callers check the stacks afterwards.
 */
export async function sst(args: string[], env: NodeJS.ProcessEnv, opts: SstRun = {}): Promise<string> {
  await fetch(`${ENDPOINT}/_localstack/health`).catch(() => {
    throw new LocalDeployError(
      `No LocalStack answers at ${ENDPOINT}: start it with npm run local:start (or set LOCALSTACK_PORT).`,
    );
  });
  const bin = path.join(REPO_ROOT, "node_modules/.bin/sst");
  const child = spawn(bin, [...args, "--stage", STAGE], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (opts.echo) process.stderr.write(chunk);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0)
    throw new LocalDeployError(
      `sst ${args[0]} --stage ${STAGE} failed (exit ${code}) against ${ENDPOINT}:\n${reasonIn(output)}`,
    );
  opts.log?.(`sst ${args.join(" ")}: exit 0`);
  return output;
}

/** SST's own error summary when it printed one, else the output's last lines without noise. */
function reasonIn(output: string): string {
  const summary = output.lastIndexOf("✖  Errors");
  if (summary >= 0) return output.slice(summary).trim();
  return (
    output
      .split("\n")
      // Neither progress lines nor stack frames: the message itself.
      .filter((l) => l.trim() && !/^\| {2}|^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]|^\s+at |^Trace: /.test(stripVTControlCharacters(l)))
      .slice(-15)
      .join("\n")
  );
}

/** The error lines of SST's own log (`.sst/debug.log`), where it records what it did not print. */
function sstErrors(): string {
  const file = path.join(REPO_ROOT, ".sst/debug.log");
  if (!existsSync(file)) return "";
  const errors = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => /\[error\]|Error:/.test(l))
    .slice(-5)
    .map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l));
  return errors.length ? `\nFrom ${path.relative(REPO_ROOT, file)}:\n${errors.join("\n")}` : "";
}

const cloudFormation = () => new CloudFormationClient(clientConfig);

/** The stack, or undefined when CloudFormation does not know it (or only as deleted). */
async function describeStack(name: string): Promise<Stack | undefined> {
  try {
    const stack = (await cloudFormation().send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
    return stack?.StackStatus === "DELETE_COMPLETE" ? undefined : stack;
  } catch (e) {
    if (/does not exist/.test(String((e as Error).message))) return undefined;
    throw e;
  }
}

/** Throws, with CloudFormation's reasons, unless the stack exists and its last operation completed. */
export async function assertDeployed(name: string): Promise<Stack> {
  const stack = await describeStack(name);
  if (!stack)
    throw new LocalDeployError(
      `sst deploy reported no error, but stack ${name} does not exist.${sstErrors()}`,
    );
  const status = stack.StackStatus ?? "UNKNOWN";
  if (!/^(CREATE|UPDATE)_COMPLETE$/.test(status)) {
    const events = await cloudFormation().send(new DescribeStackEventsCommand({ StackName: name }));
    const failed = (events.StackEvents ?? [])
      .filter((e) => /FAILED$/.test(e.ResourceStatus ?? "") && e.ResourceStatusReason)
      .slice(0, 5)
      .map((e) => `  ${e.LogicalResourceId} ${e.ResourceStatus}: ${e.ResourceStatusReason}`);
    // SST finds a stack whose creation failed "unchanged" and skips it; LocalStack 4.13.1 cannot always
    // delete one either (its IAM role handler fails on roles of a half-created stack).
    const hint = /^(CREATE_FAILED|ROLLBACK_)/.test(status)
      ? "\nA stack whose creation failed is not retried: fix the cause, then start LocalStack afresh " +
        "(npm run local:down && npm run local:up; its state is not kept)."
      : "";
    throw new LocalDeployError(
      `Stack ${name} is ${status}${stack.StackStatusReason ? ` (${stack.StackStatusReason})` : ""}` +
        `${failed.length ? `; failed resources:\n${failed.join("\n")}` : ""}${hint}`,
    );
  }
  return stack;
}

/**
 * `sst remove --stage local`, then checks that no stack of the app is left (SST exits 0 even when it
 * could not reach LocalStack at all).
 */
export async function removeLocalCloud(opts: SstRun = {}): Promise<void> {
  await sst(["remove"], sstEnv(), opts);
  const left: string[] = [];
  for (const name of Object.values(STACKS)) {
    const stack = await describeStack(name);
    if (stack)
      left.push(
        `${name} (${stack.StackStatus}${stack.StackStatusReason ? `: ${stack.StackStatusReason}` : ""})`,
      );
  }
  if (left.length)
    throw new LocalDeployError(`sst remove exited 0 but left ${left.join(", ")}.${sstErrors()}`);
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

export interface DeployOptions extends StackKnobs, SstRun {
  databaseUrl: string;
  /** Stored in the OpenWeatherMap key secret (only read when WEATHER_SOURCE=openweather). */
  openWeatherKey: string;
}

/** Deploys both stacks to LocalStack (see the module header for the order) and returns what exists. */
export async function deployLocalCloud(opts: DeployOptions): Promise<LocalCloud> {
  const log = opts.log ?? (() => {});
  const env = sstEnv(opts);
  const assembly = mkdtempSync(path.join(tmpdir(), "weather-sst-"));
  try {
    await sst(["build", "--to", assembly], env, opts);
    const deploy = async (stack: "Data" | "Pipeline", name: string) => {
      await sst(["deploy", "--from", assembly, stack], env, opts);
      return outputsOf(await assertDeployed(name));
    };
    const data = await deploy("Data", STACKS.stateful);
    await seedSecrets(data, opts.databaseUrl, opts.openWeatherKey);
    log("secrets: the owner's and each function's database URL (its role), the OpenWeatherMap key");
    const pipeline = await deploy("Pipeline", STACKS.stateless);
    const cloud = await localCloudFrom(data, pipeline);
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

type Outputs = Record<string, string>;

function outputsOf(stack: Stack): Outputs {
  return Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? "", o.OutputValue ?? ""]));
}

function output(outputs: Outputs, key: string, stack: string): string {
  const value = outputs[key];
  if (!value)
    throw new LocalDeployError(`Stack ${stack} has no output ${key}; redeploy (npm run deploy:local).`);
  return value;
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

/**
 * Fills the stateful stack's secrets (found by its outputs): the owner's URL, each function's URL with
 * its own database role (FUNCTION_DATABASE_ROLES; the machine's Postgres trusts loopback, so no
 * password), and the OpenWeatherMap key. The roles (created NOLOGIN by migration 0080) may then log in.
 */
async function seedSecrets(data: Outputs, databaseUrl: string, openWeatherKey: string): Promise<void> {
  const sm = new SecretsManagerClient(clientConfig);
  const put = (key: string, value: string) =>
    sm.send(new PutSecretValueCommand({ SecretId: output(data, key, STACKS.stateful), SecretString: value }));
  await put("DatabaseSecretArn", JSON.stringify({ url: databaseUrl }));
  for (const [id, role] of Object.entries(FUNCTION_DATABASE_ROLES)) {
    const url = new URL(databaseUrl);
    url.username = role;
    url.password = "";
    await put(`${id}DatabaseSecretArn`, JSON.stringify({ url: url.toString() }));
  }
  await put("OpenWeatherSecretArn", openWeatherKey);
  const owner = new pg.Client({ connectionString: databaseUrl });
  await owner.connect();
  try {
    for (const role of Object.values(FUNCTION_DATABASE_ROLES)) await owner.query(`alter role ${role} login`);
  } finally {
    await owner.end();
  }
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
  /** The ingest function's database secret (each function has its own, with its role). */
  databaseSecretArn: string;
  openWeatherSecretArn: string;
  /** Alarm names by their runbook suffix, e.g. `site-failure-ratio`. */
  alarms: Record<string, string>;
}

/** Finds the deployed resources of the local stage by the stacks' outputs (see stacks/Data.ts, Pipeline.ts). */
export async function discoverLocalCloud(): Promise<LocalCloud> {
  const [data, pipeline] = await Promise.all([
    assertDeployed(STACKS.stateful),
    assertDeployed(STACKS.stateless),
  ]);
  return localCloudFrom(outputsOf(data), outputsOf(pipeline));
}

async function localCloudFrom(data: Outputs, pipeline: Outputs): Promise<LocalCloud> {
  const lambda = new LambdaClient(clientConfig);
  const fn = async (id: string): Promise<DeployedFunction> => {
    const name = output(pipeline, `${id}FunctionName`, STACKS.stateless);
    const conf = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    return { name, arn: conf.FunctionArn ?? "", environment: conf.Environment?.Variables ?? {} };
  };
  const alarmsOut = await new CloudWatchClient(clientConfig).send(
    new DescribeAlarmsCommand({ AlarmNamePrefix: `${PREFIX}-` }),
  );
  const alarms = Object.fromEntries(
    (alarmsOut.MetricAlarms ?? []).map((a) => [
      String(a.AlarmName).slice(PREFIX.length + 1),
      String(a.AlarmName),
    ]),
  );
  const fromData = (key: string) => output(data, key, STACKS.stateful);
  const fromPipeline = (key: string) => output(pipeline, key, STACKS.stateless);
  return {
    functions: {
      ingest: await fn("Ingest"),
      transform: await fn("Transform"),
      checkQuality: await fn("CheckQuality"),
      heal: await fn("Heal"),
    },
    pipelineArn: fromPipeline("StateMachineArn"),
    starterArn: fromPipeline("StarterStateMachineArn"),
    scheduleRuleName: fromPipeline("ScheduleRuleName"),
    healRuleName: fromPipeline("HealRuleName"),
    alarmTopicArn: fromData("AlarmTopicArn"),
    rawBucket: fromData("RawBucket"),
    databaseSecretArn: fromData("IngestDatabaseSecretArn"),
    openWeatherSecretArn: fromData("OpenWeatherSecretArn"),
    alarms,
  };
}
