import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // the fault and end-to-end suites start processes; keep the two cores from being oversubscribed
    maxWorkers: 2,
  },
});
