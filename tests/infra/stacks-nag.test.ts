/**
 * cdk-nag AwsSolutions: zero unsuppressed findings on every stage shape, every suppression carries
 * a reason, and a wildcard policy slipped into a role is caught.
 */
import * as iam from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import { type Synth, type SynthOptions, synth } from "./stacks-synth.ts";

/** cdk-nag's unsuppressed errors and warnings, as `<construct path>: <rule>`. */
function findings(s: Synth): string[] {
  return s.messages
    .filter((m) => (m.level === "error" || m.level === "warning") && m.text.startsWith("AwsSolutions-"))
    .map((m) => `${m.path}: ${m.text.split(": ")[0]}`);
}

const shapes: [string, string, SynthOptions["context"]][] = [
  ["prod", "prod", {}],
  ["local", "local", {}],
  ["prod with RDS", "prod", { rds: "true" }],
];

describe("cdk-nag AwsSolutions", () => {
  it.each(shapes)(
    "%s: no unsuppressed errors or warnings; every suppression has a reason",
    async (_, stage, context) => {
      const s = await synth({ stage, context, nag: true });
      try {
        expect(findings(s)).toEqual([]);
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

  it("a wildcard policy on a function role is reported (the check can fail)", async () => {
    const s = await synth({
      stage: "prod",
      nag: true,
      tamper: ({ stateless }) => {
        const role = stateless.functions.Ingest.role as iam.IRole;
        role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["s3:*"], resources: ["*"] }));
      },
    });
    s.cleanup();
    const found = findings(s);
    expect(found).toEqual(
      expect.arrayContaining([expect.stringMatching(/IngestRole.*AwsSolutions-IAM5\[Action::s3:\*\]/)]),
    );
    expect(found).toEqual(
      expect.arrayContaining([expect.stringMatching(/IngestRole.*AwsSolutions-IAM5\[Resource::\*\]/)]),
    );
  });
});
