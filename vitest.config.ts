import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Dawn's bindings are safer in child processes than in worker threads; each file opens one device.
    pool: 'forks',
    testTimeout: 120_000,
    // the kernel variants are the rules' unless a test asks for the tuner (tests must not depend on a machine's cache)
    env: { TOKENWAVE_TUNE: 'off' },
    hookTimeout: 60_000,
  },
});
