/**
 * Writes the SST app's templates for cfn-lint and checkov (scripts/test-infra.sh):
 *   NODE_ENV=test npx tsx tests/infra/synth-templates.ts <dir>
 * One directory per stage shape — prod, local, prod with RDS — each with both stacks' templates.
 * NODE_ENV=test is SST's own switch for synthesizing without AWS (no bootstrap look-up).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type SynthOptions, synth } from "./stacks-synth.ts";

const SHAPES: Record<string, SynthOptions> = {
  prod: { stage: "prod" },
  local: { stage: "local" },
  "prod-rds": { stage: "prod", context: { rds: "true" } },
};

const dir = process.argv[2];
if (!dir || process.env.NODE_ENV !== "test") {
  process.stderr.write("usage: NODE_ENV=test npx tsx tests/infra/synth-templates.ts <dir>\n");
  process.exit(2);
}
for (const [name, opts] of Object.entries(SHAPES)) {
  const s = await synth(opts);
  mkdirSync(join(dir, name), { recursive: true });
  for (const [stack, template] of [
    [s.statefulStack.stackName, s.stateful],
    [s.statelessStack.stackName, s.stateless],
  ] as const)
    writeFileSync(join(dir, name, `${stack}.template.json`), JSON.stringify(template.toJSON(), null, 1));
  s.cleanup();
  process.stderr.write(`synthesized ${name}: ${s.statefulStack.stackName}, ${s.statelessStack.stackName}\n`);
}
