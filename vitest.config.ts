import { defineConfig } from "vitest/config";
import { ciReporters } from "./tests/helpers/reporters.ts";

export default defineConfig({
  test: {
    ...ciReporters(),
    include: ["tests/unit/**/*.test.ts", "tests/sql/**/*.test.ts", "tests/integration/**/*.test.ts"],
    // Each test file gets its own database; two cores, so keep parallelism modest.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
