import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { ciReporters } from "../helpers/reporters.ts";

// The offline IaC tests (npm run test:iac). Kept out of the default `npm test` include; other suites
// under tests/infra/ (CDK: `npm run test:infra`) bring their own config.
export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    ...ciReporters(),
    include: ["tests/infra/kind*.test.ts", "tests/infra/dockerfile.test.ts"],
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
