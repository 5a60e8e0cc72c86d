/**
 * One synth per test file: the SST app of `sst.config.ts`, built the way SST v2 documents stack tests
 * (`initProject`, then a deploy-mode App; under NODE_ENV=test SST skips its bootstrap look-up, so no
 * AWS is needed). `app.finish()` runs SST's own function builds, so the bundles `sst deploy` would
 * upload are in the assembly. Hands out the templates, the resolved stage settings and helpers.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Aspects, type Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { App, getStack, use } from "sst/constructs";
import { initProject } from "sst/project.js";
import sstConfig from "../../sst.config.ts";
import type { StatefulResources } from "../../stacks/constructs/stateful.ts";
import type { StatelessResources } from "../../stacks/constructs/stateless.ts";
import { Data } from "../../stacks/Data.ts";
import { Pipeline } from "../../stacks/Pipeline.ts";
import { type CONTEXT_FROM_ENV, type StageSettings, settingsFromContext } from "../../stacks/settings.ts";

export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"];

export interface SynthOptions {
  stage: string;
  /** The knobs `sst.config.ts` reads from the environment, as CDK context (e.g. `{ rds: "true" }`). */
  context?: Partial<Record<keyof typeof CONTEXT_FROM_ENV, string>>;
  /** Apply cdk-nag AwsSolutions (findings become annotations on the stacks). */
  nag?: boolean;
  /** Runs after the stack functions and before synthesis, e.g. to break a stack on purpose. */
  tamper?: (constructs: Synth["constructs"]) => void;
}

export interface Synth {
  app: App;
  settings: StageSettings;
  statefulStack: Stack;
  statelessStack: Stack;
  constructs: { stateful: StatefulResources; stateless: StatelessResources };
  outdir: string;
  stateful: Template;
  stateless: Template;
  /** What synthesis reported on either stack (cdk-nag's findings among them). */
  messages: { path: string; level: string; text: string }[];
  /** Path of a file asset in the cloud assembly (a bundle directory or the ASL file). */
  assetPath(s3Key: string): string;
  cleanup(): void;
}

export async function synth(opts: SynthOptions): Promise<Synth> {
  const outdir = mkdtempSync(join(tmpdir(), "weather-sst-"));
  await initProject({ stage: opts.stage });
  // `sst deploy` fills in the caller's account and looks the zones up; offline, a placeholder account and
  // the zones as a cdk.context.json would record them (else CDK writes "dummy1a" into the subnets).
  const app = new App(
    { mode: "deploy", stage: opts.stage, name: "weather-dataops", account: ACCOUNT, region: REGION },
    { outdir, context: { [`availability-zones:account=${ACCOUNT}:region=${REGION}`]: ZONES } },
  );
  for (const [key, value] of Object.entries(opts.context ?? {})) app.node.setContext(key, value);
  if (opts.nag) Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  await sstConfig.stacks(app);
  const constructs = { stateful: use(Data).stateful, stateless: use(Pipeline).pipeline };
  opts.tamper?.(constructs);
  await app.finish();
  const statefulStack = getStack(Data);
  const statelessStack = getStack(Pipeline);
  // One synthesis: SST's construct-id aspect refuses a second pass (Template.fromStack would run one).
  const assembly = app.synth();
  const artifact = (stack: Stack) => assembly.getStackArtifact(stack.artifactId);
  return {
    app,
    settings: settingsFromContext(opts.stage, app.node),
    statefulStack,
    statelessStack,
    constructs,
    outdir,
    stateful: Template.fromJSON(artifact(statefulStack).template),
    stateless: Template.fromJSON(artifact(statelessStack).template),
    messages: [statefulStack, statelessStack].flatMap((stack) =>
      artifact(stack).messages.map((m) => ({ path: m.id, level: m.level, text: String(m.entry.data) })),
    ),
    assetPath: (s3Key: string) => join(outdir, `asset.${s3Key.replace(/\.zip$/, "")}`),
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

export interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  Condition?: string;
}
export type Resources = Record<string, Resource>;

/** Every resource of a type, keyed by logical id. */
export function resourcesOf(t: Template, type: string): Resources {
  return t.findResources(type) as Resources;
}

/** The single resource of `type` whose logical id starts with `prefix`. */
export function one(t: Template, type: string, prefix: string) {
  const found = Object.entries(resourcesOf(t, type)).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1)
    throw new Error(`expected one ${type} named ${prefix}*, found ${found.map(([id]) => id)}`);
  const [id, res] = found[0] as [string, Resource];
  return { id, ...res, Properties: (res.Properties ?? {}) as Record<string, unknown> };
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** All statements of all inline policies attached to the role with logical id prefix `rolePrefix`. */
export function statementsOfRole(t: Template, rolePrefix: string): Statement[] {
  const roleId = one(t, "AWS::IAM::Role", rolePrefix).id;
  return Object.values(resourcesOf(t, "AWS::IAM::Policy"))
    .filter((p) => JSON.stringify(p.Properties?.Roles).includes(`"${roleId}"`))
    .flatMap(
      (p) => (p.Properties?.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? [],
    );
}

export const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

export function readProjectFile(path: string): string {
  return readFileSync(join(PROJECT_ROOT, path), "utf8");
}
