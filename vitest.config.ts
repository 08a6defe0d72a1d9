import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests share one Redis and bind real ports; each uses its own key prefix.
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
