import { defineConfig } from "vitest/config";
import { ciReporters } from "../helpers/reporters.ts";

// The LocalStack suite: real LocalStack 4.13.1 in host mode, started once for the run by the global
// setup (or reused when `npm run local:start` already started it). Kept apart from the default
// `npm test` because it needs the Python venv and a few seconds per Lambda cold start.
export default defineConfig({
  test: {
    ...ciReporters(),
    include: ["tests/localstack/**/*.test.ts"],
    globalSetup: ["tests/localstack/global-setup.ts"],
    // One LocalStack, two cores: files run one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    // The first run on a machine installs the pinned venv (about two minutes).
    hookTimeout: 300_000,
  },
});
