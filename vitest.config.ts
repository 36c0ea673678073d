import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Two groups, one after the other. First every test file but the fault tests, two at a time:
 * most of their time is spent waiting on the processes and Redis they start. Then the fault
 * tests, one at a time: they time leases, failovers and outages, and a second file's processes
 * on the same two cores would move those times.
 */
const FAULTS = 'test/faults/**/*.test.ts';

export default defineConfig({
  test: {
    globalSetup: ['packages/testing/src/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Fault and end-to-end tests print their figures; keep them visible.
    silent: false,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts', 'bench/test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, FAULTS],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'faults', include: [FAULTS], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
