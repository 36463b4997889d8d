/**
 * vitest's configuration for `npm test` (kept under test/: the top level holds only the project's fixed
 * entries). Its one addition to vitest's defaults: the global setup that fails the run if a process the
 * tests made is left behind (test/setup/leftovers.ts).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    globalSetup: ['test/setup/leftovers.ts'],
  },
});
