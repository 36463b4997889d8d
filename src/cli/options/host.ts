/** The options of ckpt host and its sub-verbs (create, list, show, rm), as data (spec.ts). */
import { PID_MAX_DEFAULT, PID_MAX_LIMIT, PID_MAX_MIN } from '../../abi/limits.js';
import { DEFAULT_KERNEL, KERNEL_NAMES } from '../../kernel/personality.js';
import { SHARED, type CommandSpec } from './spec.js';

/**
 * the architectures a host can have, as arch/registry.ts names them (a test checks the two agree):
 * written out so that the help need not load every architecture's register layouts
 */
export const ARCH_NAMES = ['i386', 'x86_64', 's390', 's390x', 'ppc', 'ppc64'] as const;

const HOST_NAME = { name: 'name', describe: 'the host name', required: true } as const;

export const HOST_CREATE: CommandSpec = {
  name: 'create',
  describe: 'Create a host of an architecture',
  positionals: [HOST_NAME],
  shared: SHARED.common,
  options: [
    { name: 'arch', type: 'string', required: true, describe: `one of ${ARCH_NAMES.join(', ')} (aliases x86, powerpc)` },
    { name: 'pid-max', type: 'string', describe: `kernel.pid_max (${PID_MAX_MIN}..${PID_MAX_LIMIT} on 64-bit arches, ..32768 on 32-bit; default ${PID_MAX_DEFAULT})` },
    { name: 'kernel', type: 'string', default: DEFAULT_KERNEL, choices: KERNEL_NAMES, describe: 'the kernel personality: mainline (Linux 6.x rules, with eclone added) or 2.6.32 (the eclone era)' },
  ],
  examples: [
    ['ckpt host create big --arch s390x --pid-max 4194304', 'a 64-bit s390 host with the largest pid space'],
    ['ckpt host create old --arch x86_64 --kernel 2.6.32', "a host with the eclone era's rules"],
  ],
};

export const HOST_LIST: CommandSpec = {
  name: 'list',
  describe: 'List hosts',
  positionals: [],
  shared: SHARED.common,
  options: [],
  examples: [['ckpt host list --json', 'every host as JSON']],
};

export const HOST_SHOW: CommandSpec = {
  name: 'show',
  describe: 'Show one host',
  positionals: [HOST_NAME],
  shared: SHARED.common,
  options: [],
  examples: [['ckpt host show default', 'its arch, clock and containers']],
};

export const HOST_RM: CommandSpec = {
  name: 'rm',
  describe: 'Remove a host and everything on it',
  positionals: [HOST_NAME],
  shared: SHARED.common,
  options: [],
  examples: [['ckpt host rm old', 'delete host old']],
};

export const HOST: CommandSpec = {
  name: 'host',
  describe: 'Create, list, show and remove simulated hosts',
  positionals: [{ name: 'action', describe: 'create, list, show or rm', required: true }],
  shared: SHARED.none,
  options: [],
  examples: [],
  subcommands: [HOST_CREATE, HOST_LIST, HOST_SHOW, HOST_RM],
};
