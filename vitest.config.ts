import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Dawn's bindings are safer in child processes than in worker threads; each file opens one device.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
