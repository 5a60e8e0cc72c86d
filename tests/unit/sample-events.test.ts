/**
 * Every sample in events/ against the handlers' own schemas, and the workflow samples against what
 * workflows/pipeline.asl.json passes: a schema or ASL change that breaks a sample fails here.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type * as z from "zod/mini";
import { completeEventSchema, planEventSchema, shardEventSchema } from "#core/workflow/ingest-tasks.ts";
import { checkEventSchema, transformEventSchema } from "#core/workflow/tasks.ts";
import { eventSchema as healEventSchema } from "#functions/heal.ts";
import { eventSchema as ingestEventSchema } from "#functions/ingest.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const read = (file: string): unknown => JSON.parse(readFileSync(join(ROOT, "events", file), "utf8"));

const SCHEMAS: Record<string, z.ZodMiniType> = {
  ingest: ingestEventSchema,
  transform: transformEventSchema,
  "check-quality": checkEventSchema,
  heal: healEventSchema,
  "ingest:plan": planEventSchema,
  "ingest:shard": shardEventSchema,
  "ingest:complete": completeEventSchema,
};
const RESOURCE: Record<string, RegExp> = {
  transform: /TransformFunctionArn/,
  "check-quality": /CheckQualityFunctionArn/,
  "ingest:plan": /IngestFunctionArn/,
  "ingest:shard": /IngestFunctionArn/,
  "ingest:complete": /IngestFunctionArn/,
};

/** Each sample, the function it is for, and the Task state that sends it (workflow samples). */
const SAMPLES: { file: string; fn: string; state?: string }[] = [
  { file: "scheduled.json", fn: "ingest" },
  { file: "replay.json", fn: "ingest" },
  { file: "transform-silver.json", fn: "transform", state: "Silver" },
  { file: "check-quality-silver.json", fn: "check-quality", state: "SilverChecks" },
  { file: "transform-gold.json", fn: "transform", state: "Gold" },
  { file: "check-quality-gold.json", fn: "check-quality", state: "QualityChecks" },
  { file: "heal.json", fn: "heal" },
  { file: "plan-ingest.json", fn: "ingest:plan", state: "PlanIngest" },
  { file: "ingest-shard.json", fn: "ingest:shard", state: "IngestShard" },
  { file: "complete-ingestion.json", fn: "ingest:complete", state: "CompleteIngestion" },
];
const BAD = { file: "bad-transform-layer.json", fn: "transform", field: "layer" };

/**
 * A Task state's Parameters as the state machine resolves them for a state input holding the sample's
 * fields (`$.interval`, `$.item` — the Map's ItemSelector puts the manifest item there —, `$.shards`).
 */
function resolveParameters(params: Record<string, unknown>, input: Record<string, unknown>) {
  return Object.fromEntries(
    Object.entries(params).map(([key, value]) => {
      if (!key.endsWith(".$")) return [key, value];
      const path = /^\$\.(\w+)$/.exec(String(value))?.[1];
      const resolved =
        value === "$$.State.RetryCount" ? 0 : path && path in input ? input[path] : `unknown path ${value}`;
      return [key.slice(0, -2), resolved];
    }),
  );
}

type AslState = { Type: string; Resource?: string; Parameters: Record<string, unknown> };
/** A state by name, those inside a Map's ItemProcessor included. */
function stateNamed(
  states: Record<string, AslState & { ItemProcessor?: { States: Record<string, AslState> } }>,
  name: string,
): AslState | undefined {
  for (const [n, st] of Object.entries(states)) {
    if (n === name) return st;
    const inner = st.ItemProcessor && stateNamed(st.ItemProcessor.States, name);
    if (inner) return inner;
  }
  return undefined;
}

describe("sample events", () => {
  it("lists every file in events/ (a new sample needs its function here)", () => {
    const files = readdirSync(join(ROOT, "events")).filter((f) => f.endsWith(".json"));
    expect(files.sort()).toEqual([...SAMPLES.map((s) => s.file), BAD.file].sort());
  });

  it.each(SAMPLES)("$file parses with the $fn handler's schema", ({ file, fn }) => {
    const parsed = (SCHEMAS[fn] as z.ZodMiniType).safeParse(read(file));
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(parsed.success).toBe(true);
  });

  it("the scheduled event's time picks its hour", () => {
    expect(ingestEventSchema.parse(read("scheduled.json"))).toBe("2026-11-22T13");
  });

  it.each(SAMPLES.filter((s) => s.state))(
    "$file is what the $state Task state sends",
    ({ file, fn, state }) => {
      const asl = JSON.parse(readFileSync(join(ROOT, "workflows/pipeline.asl.json"), "utf8"));
      const task = stateNamed(asl.States, state as string) as AslState;
      expect(task.Type).toBe("Task");
      expect(task.Resource).toMatch(RESOURCE[fn] as RegExp);
      const sample = read(file) as Record<string, unknown>;
      expect(resolveParameters(task.Parameters, sample)).toEqual(sample);
    },
  );

  it("the bad sample fails its schema on the field it is about", () => {
    const parsed = (SCHEMAS[BAD.fn] as z.ZodMiniType).safeParse(read(BAD.file));
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join("."))).toEqual([BAD.field]);
  });
});
