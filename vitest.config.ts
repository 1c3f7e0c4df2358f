import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real kernels on a software GPU and real processes are slow on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One file at a time: lavapipe already uses every core, and parallel files would
    // turn its timings and the CLI's wall clock into noise.
    fileParallelism: false,
  },
});
