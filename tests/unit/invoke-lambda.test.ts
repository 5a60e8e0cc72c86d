/**
 * `weather invoke`'s Lambda stand-ins: each function's memory and timeout equal what the stacks
 * deploy, and the context counts down from that timeout.
 */
import { describe, expect, it } from "vitest";
import { FUNCTION_NAMES, functionEnvironment, functionSpec, lambdaContext } from "#cli/lambda.ts";
import { loadConfig } from "#core/config/env.ts";
import { DEFAULT_TIME_LIMITS, timeLimitsFromConfig } from "#core/workflow/time-limits.ts";
import { FUNCTIONS, functionTimeout } from "../../stacks/constructs/stateless.ts";
import { settingsFor } from "../../stacks/settings.ts";

const STACK_ID = {
  ingest: "Ingest",
  transform: "Transform",
  "check-quality": "CheckQuality",
  heal: "Heal",
} as const;

describe("weather invoke's function specs", () => {
  const custom = {
    ...DEFAULT_TIME_LIMITS,
    tasks: { ...DEFAULT_TIME_LIMITS.tasks, Silver: 30, Gold: 240, SilverChecks: 90, QualityChecks: 20 },
  };
  it.each(FUNCTION_NAMES)("%s: memory and timeout as the stacks deploy them", (name) => {
    const def = FUNCTIONS.find((f) => f.id === STACK_ID[name]);
    expect(def).toBeDefined();
    if (!def) return;
    for (const timeLimits of [DEFAULT_TIME_LIMITS, custom]) {
      const settings = settingsFor("dev", { timeLimits });
      expect(functionSpec(name, timeLimits)).toEqual({
        memoryMb: def.memorySize,
        timeoutSeconds: functionTimeout(def, settings).toSeconds(),
      });
    }
  });

  it("the embedded runtime's WORKFLOW_*_TIMEOUT_SECONDS set the workflow functions' timeouts", () => {
    const config = loadConfig({ WORKFLOW_GOLD_TIMEOUT_SECONDS: "300" }, {});
    expect(functionSpec("transform", timeLimitsFromConfig(config)).timeoutSeconds).toBe(300);
  });
});

describe("lambdaContext", () => {
  it("counts down from the function's timeout and names the function as Lambda does", () => {
    let now = 1_000_000;
    const ctx = lambdaContext("check-quality", { memoryMb: 256, timeoutSeconds: 60 }, "eu-west-1", () => now);
    expect(ctx.getRemainingTimeInMillis()).toBe(60_000);
    now += 59_500;
    expect(ctx.getRemainingTimeInMillis()).toBe(500);
    now += 1_000;
    expect(ctx.getRemainingTimeInMillis()).toBe(0);
    expect(ctx).toMatchObject({
      functionName: "weather-dataops-check-quality",
      memoryLimitInMB: "256",
      invokedFunctionArn: "arn:aws:lambda:eu-west-1:000000000000:function:weather-dataops-check-quality",
      logGroupName: "/aws/lambda/weather-dataops-check-quality",
    });
    expect(ctx.awsRequestId).not.toBe(
      lambdaContext("check-quality", { memoryMb: 256, timeoutSeconds: 60 }, "eu-west-1").awsRequestId,
    );
  });
});

describe("functionEnvironment", () => {
  it("passes every resolved setting as a string, defaults included, and leaves unset ones out", () => {
    const env = functionEnvironment(loadConfig({ WEATHER_SOURCE: "simulator" }, {}), {
      DATABASE_URL: "postgres://127.0.0.1:1/x",
    });
    expect(env).toMatchObject({
      WEATHER_SOURCE: "simulator",
      HTTP_TIMEOUT_MS: "10000",
      DATABASE_URL: "postgres://127.0.0.1:1/x",
    });
    expect(env).not.toHaveProperty("EVENT_BUS_NAME");
    // What the handler will load from it is the same configuration.
    expect(loadConfig({}, env)).toEqual(
      loadConfig({ WEATHER_SOURCE: "simulator", DATABASE_URL: "postgres://127.0.0.1:1/x" }, {}),
    );
  });
});
