/**
 * cdk-nag AwsSolutions: zero unsuppressed findings on every stage shape, every suppression carries
 * a reason, and a wildcard policy slipped into a role is caught.
 */
import type { Stack } from "aws-cdk-lib";
import { Annotations, Match } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../stacks/app-builder.ts";
import type { StageSettings } from "../../stacks/settings.ts";
import { synth } from "./stacks-synth.ts";

function findings(stacks: Stack[]): string[] {
  return stacks.flatMap((stack) => {
    const a = Annotations.fromStack(stack);
    return [...a.findError("*", Match.anyValue()), ...a.findWarning("*", Match.anyValue())]
      .filter((m) => String(m.entry.data).startsWith("AwsSolutions-"))
      .map((m) => `${m.id}: ${String(m.entry.data).split(": ")[0]}`);
  });
}

const shapes: [string, string, Partial<StageSettings>][] = [
  ["prod", "prod", {}],
  ["local", "local", {}],
  ["prod with RDS", "prod", { rds: true }],
];

describe("cdk-nag AwsSolutions", () => {
  it.each(shapes)(
    "%s: no unsuppressed errors or warnings; every suppression has a reason",
    (_, stage, overrides) => {
      const s = synth({ stage, overrides, nag: true });
      try {
        expect(findings([s.statefulStack, s.statelessStack])).toEqual([]);
        type Meta = { cdk_nag?: { rules_to_suppress?: { id: string; reason: string }[] } };
        const suppressions = [s.stateful, s.stateless].flatMap((t) =>
          Object.values(t.toJSON().Resources as Record<string, { Metadata?: Meta }>).flatMap(
            (r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? [],
          ),
        );
        expect(suppressions.length).toBeGreaterThan(0);
        for (const sup of suppressions) {
          expect(sup.id).toMatch(/^AwsSolutions-/);
          expect(sup.reason.length, `${sup.id} needs a real reason`).toBeGreaterThan(40);
        }
      } finally {
        s.cleanup();
      }
    },
  );

  it("a wildcard policy on a function role is reported (the check can fail)", () => {
    const built = buildApp({ stage: "prod", nag: true });
    const role = built.stateless.functions.Ingest.role as iam.IRole;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["s3:*"], resources: ["*"] }));
    const found = findings([built.statelessStack]);
    expect(found).toEqual(
      expect.arrayContaining([expect.stringMatching(/IngestRole.*AwsSolutions-IAM5\[Action::s3:\*\]/)]),
    );
    expect(found).toEqual(
      expect.arrayContaining([expect.stringMatching(/IngestRole.*AwsSolutions-IAM5\[Resource::\*\]/)]),
    );
  });
});
