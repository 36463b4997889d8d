/**
 * vitest's configuration for `npm test` (kept under test/: the top level holds only the project's fixed
 * entries). Its additions to vitest's defaults:
 *  - the global setup that fails the run if a process the tests made is left behind (test/setup/leftovers.ts);
 *  - at least two workers: vitest's default for a run (cores - 1) is one on CI's two cores, and much of the
 *    suite waits on processes it starts and on the kernel. Test files may therefore run beside each other,
 *    real-kernel ones included: each works in pid namespaces, directories and helper sessions of its own,
 *    and looks only at processes it made.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    globalSetup: ['test/setup/leftovers.ts'],
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
