/** The options of ckpt dump, restore, check and inspect, as data (spec.ts). */
import { SHARED, type CommandSpec, type OptionSpec, type PositionalSpec } from './spec.js';

/** the compressions a dump can write and a restore reads by itself */
export const COMPRESSIONS = ['none', 'gzip', 'zstd'] as const;
export const RESTORE_VIAS = ['eclone', 'clone3'] as const;

const IMAGE: PositionalSpec = { name: 'image', describe: 'the image file (plain, gzip or zstd), - for standard input, or oci:DIR[:TAG] in an OCI image layout', required: true };

export const DUMP: CommandSpec = {
  name: 'dump',
  describe: 'Checkpoint a container into an image file (-o - for stdout)',
  positionals: [{ name: 'ctr', describe: 'container name', required: true }],
  shared: SHARED.host,
  options: [
    { name: 'output', alias: 'o', type: 'string', describe: 'image file, or - for standard output (default: CTR.ckpt.tar)' },
    { name: 'force', alias: 'f', type: 'boolean', default: false, describe: 'replace the output file if it exists' },
    { name: 'leave-running', type: 'boolean', default: false, describe: 'keep the container running after the dump' },
    { name: 'embed-programs', type: 'boolean', default: true, describe: 'store program text in the image, so it restores anywhere (--no-embed-programs: path and hash only)' },
    { name: 'compress', type: 'string', choices: COMPRESSIONS, default: 'none', describe: 'compress the image (zstd needs the zstd program); restore reads either kind by itself' },
  ],
  examples: [
    ['ckpt dump web -o web.tar --leave-running', 'checkpoint web and keep it running'],
    ['ckpt dump web -o - --compress zstd | ssh far ckpt restore -', 'move it to another machine'],
  ],
};

/** what restore and check both take: the target of a restore */
const RESTORE_OPTIONS: readonly OptionSpec[] = [
  { name: 'name', type: 'string', describe: "the container's name on the target (default: its name in the image)" },
  { name: 'host-pids', type: 'boolean', default: false, describe: "keep the pids at the levels above the container too: the host's, and with --into that container's (they must be free)" },
  { name: 'into', type: 'string', describe: 'restore inside this running container, as a container nested in it (its pid namespace is entered with setns)' },
  { name: 'via', type: 'string', choices: RESTORE_VIAS, default: 'eclone', describe: 'name the pids with eclone (oldest level first) or clone3 set_tid (innermost first)' },
];

export const RESTORE: CommandSpec = {
  name: 'restore',
  describe: 'Restore a container from an image (- for stdin), with identical pids at every level of the container',
  positionals: [IMAGE],
  shared: SHARED.host,
  options: RESTORE_OPTIONS,
  examples: [
    ['ckpt restore web.tar --host big', 'bring web back on host big'],
    ['ckpt restore web.tar --via clone3 --host-pids', 'mainline clone3, host pids kept too'],
    ['ckpt restore web.tar --into pod --host-pids', 'inside running container pod, pids kept at every level'],
    ['ckpt dump web -o - | ckpt restore - --host other', 'straight from a dump'],
  ],
};

export const CHECK: CommandSpec = {
  name: 'check',
  describe: 'Say whether an image would restore, and every reason if not; changes nothing',
  positionals: [IMAGE],
  shared: SHARED.host,
  options: RESTORE_OPTIONS,
  examples: [['ckpt check web.tar --host big --host-pids', 'would it restore with host pids kept?']],
};

export const INSPECT: CommandSpec = {
  name: 'inspect',
  describe: 'Show what an image holds',
  positionals: [IMAGE],
  shared: SHARED.common,
  options: [{ name: 'tree', type: 'boolean', default: false, describe: 'the task tree with every pid level' }],
  examples: [['ckpt inspect web.tar --tree', 'who is in it, at every level']],
};
