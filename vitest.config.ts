import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fails at once, saying "run npm run build", when dist/ is older than its sources.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Thread-heavy suites compete for two cores; running files one at a time keeps them honest.
    fileParallelism: false,
  },
});
