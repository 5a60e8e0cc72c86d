import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  InvokeCommand,
  type InvokeCommandOutput,
  LambdaClient,
  waitUntilFunctionActiveV2,
} from "@aws-sdk/client-lambda";
import { afterAll, describe, expect, it, vi } from "vitest";
import { awsCli, clientConfig } from "./helpers/localstack.ts";
import { zipFiles } from "./helpers/zip.ts";

// One deployment package, one function per export: the way esbuild bundles land (ESM, .mjs).
const handlerSource = `
let invocations = 0;
export const handler = async (e) => ({ ok: true, echo: e });
export const counter = async (e) => {
  invocations += 1;
  if (e.sleepMs) await new Promise((resolve) => setTimeout(resolve, e.sleepMs));
  return { invocations };
};
export const fails = async () => { throw new TypeError("station feed unreadable"); };
export const blocks = async () => { const end = Date.now() + 4000; while (Date.now() < end) {} return "unreachable"; };
export const metrics = async (e) => {
  process.stdout.write(JSON.stringify({
    _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: e.namespace, Dimensions: [["Service"]],
      Metrics: [{ Name: "SitesFailed", Unit: "Count" }] }] },
    Service: "ingest", SitesFailed: 3,
  }) + "\\n");
  console.log("ingest finished", e.marker);
  return "ok";
};
export const environment = async () => ({
  nodeVersion: process.version,
  endpoint: process.env.AWS_ENDPOINT_URL,
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  hasCredentials: Boolean(process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY),
  custom: process.env.WEATHER_STAGE,
  leaked: Object.keys(process.env).filter((k) => k.startsWith("LOCALSTACK_RUNTIME") || k === "GATEWAY_LISTEN"),
});
`;

const lambda = new LambdaClient(clientConfig);
const created: string[] = [];
const decoder = new TextDecoder();

async function deploy(
  handler: string,
  options: { timeout?: number; environment?: Record<string, string> } = {},
): Promise<string> {
  const name = `host-exec-${handler.replace(/\W/g, "-")}-${randomUUID().slice(0, 8)}`;
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: "nodejs24.x",
      Role: "arn:aws:iam::000000000000:role/host-executor-test",
      Handler: handler,
      Code: { ZipFile: zipFiles({ "index.mjs": handlerSource }) },
      Timeout: options.timeout ?? 3,
      Environment: { Variables: options.environment ?? {} },
    }),
  );
  created.push(name);
  await waitUntilFunctionActiveV2({ client: lambda, maxWaitTime: 60 }, { FunctionName: name });
  return name;
}

async function invoke(
  name: string,
  event: unknown = {},
): Promise<{ out: InvokeCommandOutput; body: unknown }> {
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: name, Payload: new TextEncoder().encode(JSON.stringify(event)) }),
  );
  return { out, body: JSON.parse(decoder.decode(out.Payload)) };
}

afterAll(async () => {
  await Promise.all(created.map((name) => lambda.send(new DeleteFunctionCommand({ FunctionName: name }))));
  lambda.destroy();
});

describe("host-node runtime executor on LocalStack", () => {
  it("returns the handler's result", async () => {
    // Prepare
    const name = await deploy("index.handler");

    // Act
    const { out, body } = await invoke(name, { site: "ams", hour: "2026-11-22T13" });

    // Assess
    expect(out.FunctionError).toBeUndefined();
    expect(body).toEqual({ ok: true, echo: { site: "ams", hour: "2026-11-22T13" } });
  });

  it("keeps the process warm between invocations", async () => {
    // Prepare
    const name = await deploy("index.counter");

    // Act
    await invoke(name);
    const { body } = await invoke(name);

    // Assess: module state survived, so the second call ran in the same process.
    expect(body).toEqual({ invocations: 2 });
  });

  it("returns a thrown error as an unhandled function error", async () => {
    // Prepare
    const name = await deploy("index.fails");

    // Act
    const { out, body } = await invoke(name);

    // Assess
    expect(out.FunctionError).toBe("Unhandled");
    expect(body).toMatchObject({ errorType: "TypeError", errorMessage: "station feed unreadable" });
  });

  it("times out a handler that sleeps past its timeout, then re-inits", async () => {
    // Prepare
    const name = await deploy("index.counter", { timeout: 1 });

    // Act
    const timedOut = await invoke(name, { sleepMs: 3000 });
    const next = await invoke(name);

    // Assess
    expect(timedOut.out.FunctionError).toBe("Unhandled");
    expect(timedOut.body).toEqual({
      errorMessage: expect.stringMatching(/Task timed out after 1\.00 seconds$/),
    });
    expect(next.out.FunctionError).toBeUndefined();
    expect(next.body).toEqual({ invocations: 1 });
  });

  it("times out a handler that blocks its event loop", async () => {
    // Prepare
    const name = await deploy("index.blocks", { timeout: 1 });

    // Act
    const { out, body } = await invoke(name);

    // Assess
    expect(out.FunctionError).toBe("Unhandled");
    expect(body).toEqual({ errorMessage: expect.stringMatching(/Task timed out after 1\.00 seconds$/) });
  });

  it("reports a missing handler as an init error", async () => {
    // Prepare
    const name = await deploy("index.doesNotExist");

    // Act
    const { out, body } = await invoke(name);

    // Assess
    expect(out.FunctionError).toBe("Unhandled");
    expect(body).toMatchObject({ errorType: "Runtime.HandlerNotFound" });
  });

  it("passes the function environment and LocalStack's endpoint, and nothing internal", async () => {
    // Prepare
    const name = await deploy("index.environment", { environment: { WEATHER_STAGE: "local" } });

    // Act
    const { body } = await invoke(name);

    // Assess
    expect(body).toEqual({
      endpoint: clientConfig.endpoint,
      functionName: name,
      hasCredentials: true,
      custom: "local",
      leaked: [],
      nodeVersion: expect.any(String),
    });
  });

  it("runs functions on the Node 24 that nodejs24.x has, not on the machine's node", async () => {
    // Prepare: the pin lives in scripts/node24.sh (start.sh and .ci/run provision it from there).
    const pinned = /^version=(\S+)$/m.exec(readFileSync("scripts/node24.sh", "utf8"))?.[1];
    const name = await deploy("index.environment");

    // Act
    const { body } = await invoke(name);

    // Assess
    expect(pinned).toMatch(/^24\./);
    expect((body as { nodeVersion: string }).nodeVersion).toBe(`v${pinned}`);
  });

  it("forwards EMF lines to CloudWatch metrics and log lines to CloudWatch Logs", async () => {
    // Prepare
    const name = await deploy("index.metrics");
    const namespace = `WeatherTest/${randomUUID().slice(0, 8)}`;
    const marker = randomUUID();
    const start = new Date(Date.now() - 5 * 60_000).toISOString();
    const end = new Date(Date.now() + 5 * 60_000).toISOString();

    // Act
    const { out } = await invoke(name, { namespace, marker });

    // Assess
    expect(out.FunctionError).toBeUndefined();
    await vi.waitFor(
      () => {
        const stats = awsCli([
          "cloudwatch",
          "get-metric-statistics",
          ...[
            "--namespace",
            namespace,
            "--metric-name",
            "SitesFailed",
            "--dimensions",
            "Name=Service,Value=ingest",
          ],
          ...["--start-time", start, "--end-time", end, "--period", "60", "--statistics", "Sum"],
        ]) as { Datapoints: { Sum: number }[] };
        expect(stats.Datapoints.map((d) => d.Sum)).toEqual([3]);
      },
      { timeout: 20_000, interval: 500 },
    );
    await vi.waitFor(
      () => {
        const logs = awsCli(["logs", "filter-log-events", "--log-group-name", `/aws/lambda/${name}`]) as {
          events: { message: string }[];
        };
        expect(logs.events.map((e) => e.message).join("\n")).toContain(`ingest finished ${marker}`);
      },
      { timeout: 20_000, interval: 500 },
    );
  });
});
