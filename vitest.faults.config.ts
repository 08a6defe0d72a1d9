import { defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:faults`): real redis-server processes with AOF, real relay processes, a
 * fault-injecting fake Slack and SMTP server. Scenarios kill processes and starve the CPU, so they run one
 * file at a time; `npm test` does not include them (vitest.config.ts excludes test/faults).
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 90_000,
  },
});
