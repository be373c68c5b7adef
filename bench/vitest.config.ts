import { defineConfig } from "vitest/config";

// The bench's own checks (`npm test -w bench`); benchmarks themselves are not tests.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
  },
});
