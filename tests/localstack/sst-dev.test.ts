/**
 * `sst dev --stage local` on LocalStack: SST's live Lambda carried by the project's IoT pieces (the
 * `iot` provider answering DescribeEndpoint, the aedes broker on loopback:443 with its own certificate).
 * An invocation of the deployed function through the Lambda API reaches SST's bridge in LocalStack,
 * crosses the broker to the `sst dev` process, runs the handler from the working tree, and comes back;
 * a marker changed in the handler's source after `sst dev` started shows up in the next invocation
 * without a redeploy. `sst dev` runs in a copy of the working tree, so the edit never touches the
 * checkout.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sites from "../../config/sites.json" with { type: "json" };
import { type IotBroker, iotCertDir, startIotBroker } from "../../localstack/iot-broker.ts";
import {
  clientConfig,
  createDatabaseIfMissing,
  deployLocalCloud,
  dropDatabase,
  type LocalCloud,
  migrateDatabase,
  REPO_ROOT,
  removeLocalCloud,
  type StackKnobs,
} from "../../localstack/local-cloud.ts";
import { iotEndpointAddress, type SstDev, STATE_DIR, startSstDev } from "../../localstack/sst-dev.ts";
import { type Simulator, startSimulator } from "../../simulator/server.ts";

const lambda = new LambdaClient(clientConfig);
const suffix = randomBytes(4).toString("hex");
const OWM_KEY = `owm-${randomBytes(12).toString("hex")}`;
const serverUrl = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
serverUrl.pathname = `/weather_ls_dev_${suffix}`;
const databaseUrl = serverUrl.toString();
/** The text ingest's event validation names what it expected; the test rewrites it in the copy. */
const EXPECTED_EVENT = 'an EventBridge scheduled event (with "time")';
const CLI_TOPIC = "/sst/weather-dataops/local/events";

let sim: Simulator;
let cloud: LocalCloud;
let broker: IotBroker | undefined;
let dev: SstDev | undefined;
let workdir: string;
let deployedCodeSha: string | undefined;
const subscribed = new Set<string>();

/** The tracked and untracked-but-not-ignored files of the checkout, with node_modules linked. */
function copyWorkingTree(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "weather-sst-dev-"));
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter(Boolean);
  for (const file of files) {
    const from = path.join(REPO_ROOT, file);
    try {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      cpSync(from, path.join(dir, file));
    } catch (e) {
      // A file deleted in the working tree but still in the index.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

async function ingestConfig() {
  return lambda.send(new GetFunctionConfigurationCommand({ FunctionName: cloud.functions.ingest.name }));
}

interface Invocation {
  error?: string;
  payload: string;
  /** A failed invocation's `errorMessage` and stack, as the bridge passes them on. */
  errorMessage?: string;
  trace?: string[];
}

async function invokeIngest(event: unknown): Promise<Invocation> {
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: cloud.functions.ingest.name, Payload: JSON.stringify(event) }),
  );
  const payload = Buffer.from(out.Payload ?? []).toString();
  if (!out.FunctionError) return { payload };
  const { errorMessage, trace } = JSON.parse(payload) as { errorMessage?: string; trace?: string[] };
  return { error: out.FunctionError, payload, errorMessage, trace };
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (dev?.child.exitCode != null)
      throw new Error(
        `sst dev exited (${dev.child.exitCode}) while waiting for ${what}:\n${dev.output().slice(-3000)}`,
      );
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; sst dev printed:\n${dev?.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

beforeAll(async () => {
  sim = await startSimulator({ apiKey: OWM_KEY });
  await createDatabaseIfMissing(databaseUrl);
  await migrateDatabase(databaseUrl);
  const knobs: StackKnobs = {
    functionEnv: { SIMULATOR_URL: sim.url, OPEN_METEO_BASE_URL: sim.url, OPENWEATHER_BASE_URL: sim.url },
    noDataPeriods: 1,
  };
  // The deployed app first (secrets filled in), as `npm run dev:local` does through local:up.
  cloud = await deployLocalCloud({ databaseUrl, openWeatherKey: OWM_KEY, ...knobs });
  deployedCodeSha = (await ingestConfig()).CodeSha256;

  broker = await startIotBroker({
    address: await iotEndpointAddress(),
    certDir: iotCertDir(STATE_DIR),
    log: (line, fields) => {
      if (line === "subscribed") for (const t of (fields?.topics as string[]) ?? []) subscribed.add(t);
    },
  });
  workdir = copyWorkingTree();
  dev = startSstDev({ cwd: workdir, knobs, caFile: path.join(iotCertDir(STATE_DIR), "cert.pem") });
  // Ready: the functions are SST's bridge, and the CLI listens on the app's topic.
  await until("the functions to be replaced by SST's bridge", 300_000, async () =>
    (await ingestConfig()).Handler === "live-lambda.handler" ? true : undefined,
  );
  await until("sst dev to subscribe on the broker", 60_000, async () =>
    subscribed.has(CLI_TOPIC) ? true : undefined,
  );
}, 600_000);

afterAll(async () => {
  await dev?.stop();
  await broker?.close();
  if (cloud) await removeLocalCloud().catch((e: Error) => console.error(e.message));
  await sim?.close();
  await dropDatabase(databaseUrl);
  if (workdir) rmSync(workdir, { recursive: true, force: true });
}, 180_000);

describe("sst dev --stage local", () => {
  it("an invocation of the deployed ingest function runs the working tree's handler and loads bronze", async () => {
    // Prepare
    const config = await ingestConfig();
    expect(config.Handler).toBe("live-lambda.handler");
    expect(config.CodeSha256).not.toBe(deployedCodeSha);
    const interval = new Date().toISOString().slice(0, 13);
    // Act
    const result = await invokeIngest({ interval });
    // Assess: the summary ingest computes, from the simulator, through the bridge and the broker.
    expect(result.error, result.payload).toBeUndefined();
    expect(JSON.parse(result.payload)).toMatchObject({
      interval,
      status: "succeeded",
      sitesOk: sites.length,
      sitesFailed: 0,
    });
    expect(dev?.output()).toMatch(/Invoked functions\/ingest\.handler/);
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const rows = await db.query(
        "select count(distinct site_id)::int as n from bronze.weather_observations where source = 'simulator'",
      );
      expect(rows.rows[0].n).toBe(sites.length);
    } finally {
      await db.end();
    }
  }, 120_000);

  it("a marker changed in the handler source after sst dev started shows in the next invocation, without a redeploy", async () => {
    // Prepare: the deployed validation message, from the source as it was when sst dev started.
    const before = await invokeIngest({});
    expect(before.error).toBe("Unhandled");
    expect(before.errorMessage).toContain(EXPECTED_EVENT);
    // Computed by the copy's source, not by code in LocalStack.
    expect(before.trace?.join("\n")).toContain(path.join(workdir, "functions/ingest.ts"));
    const codeSha = (await ingestConfig()).CodeSha256;
    const marker = `dev-marker-${randomBytes(6).toString("hex")}`;
    const source = path.join(workdir, "functions/ingest.ts");
    const text = readFileSync(source, "utf8");
    expect(text).toContain(EXPECTED_EVENT);
    // Act
    writeFileSync(source, text.replace(EXPECTED_EVENT, `${EXPECTED_EVENT} [${marker}]`));
    const after = await until("the edited handler to answer", 60_000, async () => {
      const r = await invokeIngest({});
      return r.errorMessage?.includes(marker) ? r : undefined;
    });
    // Assess
    expect(after.error).toBe("Unhandled");
    expect(after.errorMessage).toContain(`${EXPECTED_EVENT} [${marker}]`);
    expect((await ingestConfig()).CodeSha256).toBe(codeSha);
  }, 120_000);
});
