import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    restoreMocks: true,
    unstubGlobals: true,
    // test/keycard.test.ts builds keycard and hashes passwords (argon2id)
    // on machines that may be busy.
    testTimeout: 60_000,
  },
});
