import { defineConfig } from "vitest/config";
import { ciReporters } from "../helpers/reporters.ts";

// The cloud-stack checks (synth, cdk-nag, ASL). Run by `npm run test:infra` (scripts/test-infra.sh),
// which also runs cfn-lint and checkov on the synthesized templates.
export default defineConfig({
  test: {
    ...ciReporters(),
    include: ["tests/infra/stacks*.test.ts"],
    // Each file synthesizes the SST app, whose function builds share .sst/artifacts: one file at a time.
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
