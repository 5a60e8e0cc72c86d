/**
 * The synthesized workflows are valid ASL: the pipeline's DefinitionS3Location asset (the one ASL
 * file) with its substitutions applied, and the starter's inline definition.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PIPELINE_ASL } from "../../stacks/constructs/stateless.ts";
import { one, readProjectFile, type Synth, synth } from "./stacks-synth.ts";

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
beforeAll(() => {
  s = synth({ stage: "prod" });
});
afterAll(() => s?.cleanup());

describe("pipeline state machine definition", () => {
  const synthesized = () => {
    const sm = one(s.stateless, "AWS::StepFunctions::StateMachine", "PipelineWorkflow");
    const location = sm.Properties.DefinitionS3Location as { Key: string };
    const text = readFileSync(s.assetPath(location.Key), "utf8");
    return { sm, text };
  };

  it("is the one ASL file, byte for byte", () => {
    expect(synthesized().text).toBe(readProjectFile(PIPELINE_ASL));
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
