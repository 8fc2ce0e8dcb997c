import { defineConfig } from 'vitest/config';

// `npm run chaos`: the long reliability scenarios, one at a time, on the same real stack as the tests.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    pool: 'forks',
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 180_000,
    maxWorkers: 1,
  },
});
