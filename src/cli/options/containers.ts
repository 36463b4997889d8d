/** The options of ckpt run, ps, step, logs, kill and rm, as data (spec.ts). */
import { SHARED, type CommandSpec, type PositionalSpec } from './spec.js';

const CONTAINER: PositionalSpec = { name: 'ctr', describe: 'container name', required: true };

export const RUN: CommandSpec = {
  name: 'run',
  describe: 'Start a container running a workload file',
  positionals: [CONTAINER, { name: 'workload', describe: 'workload file (images/workloads/README.md)', required: true }],
  shared: SHARED.host,
  options: [{ name: 'steps', type: 'string', default: '0', describe: 'run this many scheduler steps of this container after starting (N)' }],
  examples: [['ckpt run web images/workloads/nested.wl --steps 100', 'start it and run 100 steps']],
};

export const PS: CommandSpec = {
  name: 'ps',
  describe: 'Show the tasks with every pid level, their ABI and wait state (--tree: as a tree)',
  positionals: [{ name: 'ctr', describe: 'only this container', required: false }],
  shared: SHARED.host,
  options: [{ name: 'tree', type: 'boolean', default: false, describe: 'draw the process tree, threads under their process' }],
  examples: [
    ['ckpt ps web --json', 'one object per task, nspids host level first'],
    ['ckpt ps --tree', 'who started whom, every pid level shown'],
  ],
};

export const STEP: CommandSpec = {
  name: 'step',
  describe: 'Run a container (or every container) for some scheduler steps',
  positionals: [{ name: 'ctr', describe: 'the container to run', required: false }],
  shared: SHARED.host,
  options: [
    { name: 'all', type: 'boolean', default: false, describe: 'run every container on the host' },
    { name: 'steps', type: 'string', default: '1', describe: 'how many steps (one statement of one task each)' },
    { name: 'until-idle', type: 'boolean', default: false, describe: 'run until every task is blocked or gone' },
  ],
  examples: [
    ['ckpt step web --steps 50', 'fifty statements of container web'],
    ['ckpt step --all --until-idle', 'everything, until nothing can run'],
  ],
};

export const LOGS: CommandSpec = {
  name: 'logs',
  describe: "Print a container's console",
  positionals: [CONTAINER],
  shared: SHARED.host,
  options: [],
  examples: [['ckpt logs web', 'everything it printed']],
};

export const KILL: CommandSpec = {
  name: 'kill',
  describe: "Send a signal to a container's init (from the host, an ancestor namespace)",
  positionals: [CONTAINER],
  shared: SHARED.host,
  options: [{ name: 'signal', alias: 's', type: 'string', default: 'KILL', describe: 'KILL, TERM, STOP, CONT, INT, HUP or a number' }],
  examples: [['ckpt kill web --signal STOP', 'stop the whole container']],
};

export const RM: CommandSpec = {
  name: 'rm',
  describe: 'Remove a container whose init has exited (--force kills it first)',
  positionals: [CONTAINER],
  shared: SHARED.host,
  options: [{ name: 'force', type: 'boolean', default: false, describe: 'kill it first if it is still running' }],
  examples: [['ckpt rm web --force', 'kill and remove']],
};
