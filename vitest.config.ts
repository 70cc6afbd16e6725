import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests that start servers, eBPF or Chromium share this small machine: run files one at a time.
    fileParallelism: false,
  },
});
