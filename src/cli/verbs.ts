/**
 * VERBS: every verb of the command line, in the order --help lists them.
 * A verb's code is imported only when that verb runs, so `ckpt --help`,
 * `ckpt --version` and `ckpt VERB --help` (rendered from the verb's options
 * as data, src/cli/options) load none of them. To add a verb, add a row: its
 * name, its usage and one-line description (for the top-level help), and
 * `load`, which imports its module and returns its yargs command module(s);
 * a module that defines several verbs returns them all and the one named is
 * taken. Its options go in src/cli/options (and options/all.ts).
 */
import type { CommandModule } from 'yargs';
import type { CliContext } from './context.js';

export interface VerbEntry {
  name: string;
  usage: string;
  describe: string;
  /** the sub-verbs and their usage, for a verb that has them (host create, ...): a usage error points at the sub-verb's own help */
  subverbs?: Readonly<Record<string, string>>;
  load(ctx: CliContext): Promise<CommandModule | CommandModule[]>;
  /** the verb stops cleanly on SIGINT/SIGTERM (catchSignals), so a signal is held for it while its code loads */
  catchesSignals?: true;
}

const containers = (ctx: CliContext) => import('./commands/containers.js').then((m) => m.containerCommands(ctx));
const images = (ctx: CliContext) => import('./commands/images.js').then((m) => m.imageCommands(ctx));
const oci = (ctx: CliContext) => import('./commands/oci.js').then((m) => m.ociCommands(ctx));

export const VERBS: readonly VerbEntry[] = [
  { name: 'demo', usage: 'demo', describe: 'Checkpoint a nested container on an i386 host and restore it, running, on an x86_64 host', load: (ctx) => import('./commands/demo.js').then((m) => m.demoCommand(ctx)) },
  { name: 'host', usage: 'host <create|list|show|rm>', describe: 'Create, list, show and remove simulated hosts', subverbs: { create: 'host create <name> --arch ARCH', list: 'host list', show: 'host show <name>', rm: 'host rm <name>' }, load: (ctx) => import('./commands/host.js').then((m) => m.hostCommand(ctx)) },
  { name: 'run', usage: 'run <ctr> <workload>', describe: 'Start a container running a workload file', load: containers },
  { name: 'ps', usage: 'ps [ctr]', describe: 'Show the tasks with every pid level, their ABI and wait state (--tree: as a tree)', load: containers },
  { name: 'step', usage: 'step [ctr]', describe: 'Run a container (or every container) for some scheduler steps', load: containers },
  { name: 'logs', usage: 'logs <ctr>', describe: "Print a container's console", load: containers },
  { name: 'kill', usage: 'kill <ctr>', describe: "Send a signal to a container's init (from the host, an ancestor namespace)", load: containers },
  { name: 'rm', usage: 'rm <ctr>', describe: 'Remove a container whose init has exited (--force kills it first)', load: containers },
  { name: 'dump', usage: 'dump <ctr>', describe: 'Checkpoint a container into an image file (-o - for stdout)', load: images, catchesSignals: true },
  { name: 'restore', usage: 'restore <image>', describe: 'Restore a container from an image (- for stdin), with identical pids at every level of the container', load: images, catchesSignals: true },
  { name: 'check', usage: 'check <image>', describe: 'Say whether an image would restore, and every reason if not; changes nothing', load: images },
  { name: 'inspect', usage: 'inspect <image>', describe: 'Show what an image holds', load: images },
  { name: 'export', usage: 'export <image> <oci:DIR[:TAG]>', describe: 'Write an image into an OCI image layout as an artifact', load: oci },
  { name: 'import', usage: 'import <oci:DIR[:TAG]>', describe: 'Read an image back out of an OCI image layout (-o FILE)', load: oci },
  { name: 'push', usage: 'push <image> <docker://REGISTRY/REPO:TAG>', describe: 'Push an image to a registry as an OCI artifact (skopeo)', load: oci },
  { name: 'pull', usage: 'pull <docker://REGISTRY/REPO:TAG>', describe: 'Pull an image from a registry (skopeo; -o FILE)', load: oci },
];

/** commandName is the verb a yargs command module defines: the first word of its command string. */
export function commandName(m: CommandModule): string {
  const c = Array.isArray(m.command) ? m.command[0] : m.command;
  return String(c ?? '').split(' ')[0]!;
}
