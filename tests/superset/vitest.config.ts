import { defineConfig } from "vitest/config";

// Run by scripts/test-superset.sh (npm run test:superset), which starts Superset and sets SUPERSET_URL.
export default defineConfig({
  test: {
    include: ["tests/superset/**/*.test.ts"],
    // One Superset dev server and two cores: one file at a time, bundle checks first.
    maxWorkers: 1,
    fileParallelism: false,
    sequence: { shuffle: false },
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
