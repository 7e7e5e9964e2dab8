import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Thread-heavy suites compete for two cores; running files one at a time keeps them honest.
    fileParallelism: false,
  },
});
