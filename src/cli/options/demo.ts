/** The options of ckpt demo, as data (spec.ts). */
import { SHARED, type CommandSpec } from './spec.js';

export const DEMO: CommandSpec = {
  name: 'demo',
  describe: 'Checkpoint a nested container on an i386 host and restore it, running, on an x86_64 host',
  positionals: [],
  shared: SHARED.common,
  options: [
    { name: 'from', type: 'string', default: 'i386', describe: 'the source host architecture' },
    { name: 'to', type: 'string', default: 'x86_64', describe: 'the target host architecture' },
    { name: 'steps', type: 'string', default: '60', describe: 'scheduler steps to run before the checkpoint (N)' },
    { name: 'real', type: 'boolean', default: false, describe: 'model host -> real processes on this machine -> model host, pids beside /proc NSpid (needs root and the helper)' },
  ],
  examples: [
    ['ckpt demo', 'i386 -> x86_64, pids side by side'],
    ['ckpt demo --from s390 --to s390x --json', 'another compat pair, as JSON'],
    ['ckpt demo --real', 'through real processes on this machine and back'],
  ],
};
