/**
 * One synth per test file: builds the plain CDK app into a temp cloud assembly and hands out the
 * templates, the resolved stage settings and helpers over the synthesized output.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import { type BuildOptions, type BuiltApp, buildApp, PROJECT_ROOT } from "../../stacks/app-builder.ts";

export interface Synth extends Omit<BuiltApp, "stateful" | "stateless"> {
  constructs: Pick<BuiltApp, "stateful" | "stateless">;
  outdir: string;
  stateful: Template;
  stateless: Template;
  /** Path of a file asset in the cloud assembly (a bundle directory or the ASL file). */
  assetPath(s3Key: string): string;
  cleanup(): void;
}

export function synth(opts: Omit<BuildOptions, "outdir">): Synth {
  const outdir = mkdtempSync(join(tmpdir(), "weather-cdk-"));
  const built = buildApp({ ...opts, outdir });
  built.app.synth();
  const { stateful, stateless, ...rest } = built;
  return {
    ...rest,
    constructs: { stateful, stateless },
    outdir,
    stateful: Template.fromStack(built.statefulStack),
    stateless: Template.fromStack(built.statelessStack),
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
