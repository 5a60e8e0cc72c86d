/**
 * The synthesized workflows are valid ASL: the pipeline's definition (the one ASL file with the stage's
 * time limits) with its substitutions applied, and the starter's inline definition.
 */
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyTimeLimits, DEFAULT_TIME_LIMITS, TimeLimitError } from "../../core/workflow/time-limits.ts";
import {
  FUNCTIONS,
  functionTimeout,
  PIPELINE_ASL,
  pipelineDefinition,
} from "../../stacks/constructs/stateless.ts";
import { settingsFor } from "../../stacks/settings.ts";
import { one, PROJECT_ROOT, readProjectFile, type Synth, synth } from "./stacks-synth.ts";

type AslValidator = (
  definition: unknown,
  opts?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errors: unknown[] };
const validate = createRequire(import.meta.url)("asl-validator") as AslValidator;

const ACCOUNT = "123456789012";
const fakeArn = (logicalId: string) => {
  if (/Transform|CheckQuality|Ingest/.test(logicalId))
    return `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${logicalId}`;
  if (/Workflow|Starter/.test(logicalId))
    return `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${logicalId}`;
  return `arn:aws:sns:us-east-1:${ACCOUNT}:${logicalId}`;
};

/** Resolves the intrinsics CDK emits into definition strings to plausible literal values. */
function resolve(value: unknown): string {
  if (typeof value === "string") return value;
  const v = value as Record<string, unknown>;
  if ("Ref" in v) {
    const ref = v.Ref as string;
    if (ref === "AWS::Partition") return "aws";
    if (ref === "AWS::Region") return "us-east-1";
    if (ref === "AWS::AccountId") return ACCOUNT;
    return fakeArn(ref);
  }
  if ("Fn::GetAtt" in v) return fakeArn((v["Fn::GetAtt"] as string[])[0] as string);
  if ("Fn::ImportValue" in v) return fakeArn(v["Fn::ImportValue"] as string);
  if ("Fn::Join" in v) {
    const [sep, parts] = v["Fn::Join"] as [string, unknown[]];
    return parts.map(resolve).join(sep);
  }
  throw new Error(`unexpected intrinsic in a definition: ${JSON.stringify(value)}`);
}

let s: Synth;
beforeAll(async () => {
  s = await synth({ stage: "prod" });
});
afterAll(() => s?.cleanup());

describe("pipeline state machine definition", () => {
  const synthesized = () => {
    const sm = one(s.stateless, "AWS::StepFunctions::StateMachine", "PipelineWorkflow");
    const text = sm.Properties.DefinitionString as string;
    expect(typeof text, "an inline definition without intrinsics").toBe("string");
    return { sm, text };
  };
  type Def = { TimeoutSeconds?: number; States: Record<string, { Type: string; TimeoutSeconds?: number }> };
  const withoutTimeouts = (def: Def) => {
    const copy = structuredClone(def);
    delete copy.TimeoutSeconds;
    for (const state of Object.values(copy.States)) delete state.TimeoutSeconds;
    return copy;
  };

  it("is the one ASL file, with only the time limits set to the stage's", () => {
    const file = JSON.parse(readProjectFile(PIPELINE_ASL)) as Def;
    const definition = JSON.parse(synthesized().text) as Def;
    expect(withoutTimeouts(definition)).toEqual(withoutTimeouts(file));
    expect(definition).toEqual(applyTimeLimits(file, s.settings.timeLimits));
  });

  it("every Task and the execution carry TimeoutSeconds from the stage settings", () => {
    const definition = JSON.parse(synthesized().text) as Def;
    expect(definition.TimeoutSeconds).toBe(s.settings.timeLimits.executionSeconds);
    const tasks = Object.entries(definition.States).filter(([, st]) => st.Type === "Task");
    expect(tasks).toHaveLength(7);
    for (const [name, state] of tasks)
      expect(state.TimeoutSeconds, name).toBe((s.settings.timeLimits.tasks as Record<string, number>)[name]);
  });

  it("each task function's timeout is the longest time limit of the states it serves", () => {
    const limits = s.settings.timeLimits.tasks;
    const timeoutOf = (id: string) =>
      one(s.stateless, "AWS::Lambda::Function", `Pipeline${id}`).Properties.Timeout as number;
    expect(timeoutOf("Transform")).toBe(Math.max(limits.Silver, limits.Gold));
    expect(timeoutOf("CheckQuality")).toBe(Math.max(limits.SilverChecks, limits.QualityChecks));
    expect(timeoutOf("Ingest")).toBe(300);
  });

  it("time limits are stage settings: an override reaches the definition and the functions", () => {
    const timeLimits = {
      executionSeconds: 5000,
      tasks: {
        PlanIngest: 30,
        IngestShard: 400,
        CompleteIngestion: 40,
        Silver: 300,
        SilverChecks: 45,
        Gold: 200,
        QualityChecks: 90,
        NotifyFailure: 20,
      },
    };
    const settings = settingsFor("dev", { timeLimits });
    const definition = JSON.parse(pipelineDefinition(PROJECT_ROOT, settings)) as Def;
    expect(definition.TimeoutSeconds).toBe(5000);
    expect(definition.States.Gold?.TimeoutSeconds).toBe(200);
    const fn = (id: string) => FUNCTIONS.find((f) => f.id === id) as (typeof FUNCTIONS)[number];
    expect(functionTimeout(fn("Transform"), settings).toSeconds()).toBe(300);
    expect(functionTimeout(fn("CheckQuality"), settings).toSeconds()).toBe(90);
    // The shard task's limit (inside the Map) reaches the definition and the ingest function.
    const map = definition.States.IngestShards as unknown as { ItemProcessor: Def };
    expect(map.ItemProcessor.States.IngestShard?.TimeoutSeconds).toBe(400);
    expect(functionTimeout(fn("Ingest"), settings).toSeconds()).toBe(400);
  });

  it("refuses an execution limit that would cut a failing execution off before its notification", () => {
    const settings = settingsFor("dev", { timeLimits: { ...DEFAULT_TIME_LIMITS, executionSeconds: 300 } });
    expect(() => pipelineDefinition(PROJECT_ROOT, settings)).toThrow(TimeLimitError);
    expect(() => pipelineDefinition(PROJECT_ROOT, settings)).toThrow(/at least \d+ s/);
  });

  it("every $-brace placeholder in the file has a substitution (LocalStack fails the resource otherwise)", () => {
    const { sm, text } = synthesized();
    const placeholders = new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]));
    expect([...placeholders].sort()).toEqual(
      Object.keys(sm.Properties.DefinitionSubstitutions as object).sort(),
    );
  });

  it("passes asl-validator once substituted (ARNs and paths checked)", () => {
    const { sm, text } = synthesized();
    const subs = sm.Properties.DefinitionSubstitutions as Record<string, unknown>;
    const substituted = text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => resolve(subs[name]));
    const definition = JSON.parse(substituted);
    // asl-validator mutates its input (adds QueryLanguage): give it a clone.
    const result = validate(structuredClone(definition), { checkPaths: true, checkArn: true });
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it("a broken definition is rejected (the validator is really checking)", () => {
    const { text } = synthesized();
    const broken = JSON.parse(text.replace(/\$\{[A-Za-z0-9_]+\}/g, "arn:aws:lambda:us-east-1:1:function:x"));
    broken.States.Silver.Next = "NoSuchState";
    expect(validate(structuredClone(broken)).isValid).toBe(false);
  });
});

describe("starter state machine definition", () => {
  it("passes asl-validator", () => {
    const sm = one(s.stateless, "AWS::StepFunctions::StateMachine", "PipelineStarter");
    const definition = JSON.parse(resolve(sm.Properties.DefinitionString));
    const result = validate(structuredClone(definition), { checkPaths: true, checkArn: true });
    expect(result.errors).toEqual([]);
    expect(definition.States.StartPipeline).toMatchObject({
      Type: "Task",
      Resource: "arn:aws:states:::states:startExecution",
      Parameters: { "Name.$": "$.interval", "Input.$": "$" },
      Catch: [{ ErrorEquals: ["StepFunctions.ExecutionAlreadyExistsException"], Next: "AlreadyStarted" }],
    });
  });
});
