import { defineConfig } from "vitest/config";
import { ciReporters } from "../helpers/reporters.ts";

// The fault suite: each file injects one class of fault (a killed database, two writers on one home,
// an oversized body, a rejected key, a hung step...) and proves nothing was lost, duplicated or left
// silent. Files that stop Postgres start their own instance on a free loopback port, never the
// machine's server. Kept apart from `npm test` because it kills processes and takes minutes.
export default defineConfig({
  test: {
    ...ciReporters(),
    include: ["tests/faults/**/*.test.ts"],
    // Two cores, and several files start a private Postgres or two CLI processes: one file at a time.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
