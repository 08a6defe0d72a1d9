import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault suite has its own config and script (vitest.faults.config.ts, npm run test:faults).
    exclude: [...configDefaults.exclude, 'test/faults/**'],
    // Integration tests share one Redis and bind real ports; each uses its own key prefix. The bound only
    // catches a hung test: on a loaded 2-core machine a test that spawns `tsx` processes takes 10–20 s.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
