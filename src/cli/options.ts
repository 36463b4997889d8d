/** Options every verb shares, the checks that make parsing validation, and the store and host they select. */
import type { Argv, CommandModule } from 'yargs';
import type { Container } from '../container/container.js';
import type { Machine } from '../container/machine.js';
import { isValidName, NAME_RULE } from '../container/names.js';
import { HostStore, stateRoot } from '../store/host-store.js';
import { refuse } from './refused.js';
import { CliError, UsageError } from './usage-error.js';
import { DEFAULT_HOST, LINUX_HOST, usageOf, type CommandSpec } from './options/spec.js';
import { yargsBuilder, type Coercions } from './options/to-yargs.js';

export { DEFAULT_HOST, LINUX_HOST };

/** linuxHost loads the machine backend only when a command names --host linux (it is not on the --help path). */
export const linuxHost = () => import('./linux-host.js');

export interface CommonArgs {
  root: string | undefined;
  json: boolean;
  quiet: boolean;
}

export interface HostArgs extends CommonArgs {
  host: string;
}

export const DEFAULT_ARCH = 'x86_64';

/** nameOf checks a host or container name while parsing: a bad one refuses the command before it touches anything. */
export function nameOf(kind: 'host' | 'container'): (name: unknown) => string {
  return (name) => {
    const s = String(name);
    if (!isValidName(s)) refuse(new CliError('CKPT_BAD_NAME', `bad ${kind} name ${JSON.stringify(s)}: ${NAME_RULE}`));
    return s;
  };
}

/** countOf parses a whole number of at least `min` for option `--name`, naming the option and what was given when it is not one. */
export function countOf(name: string, min = 0): (value: unknown) => number {
  return (value) => {
    const s = String(value);
    if (!/^\d+$/.test(s) || Number(s) < min || !Number.isSafeInteger(Number(s))) refuse(new UsageError(`--${name} needs a whole number${min > 0 ? ` of at least ${min}` : ''}, not ${JSON.stringify(s)}`));
    return Number(s);
  };
}

/**
 * declared is what a command module declares from its options as data (src/cli/options/): the
 * command and its description, and a builder that gives yargs exactly those options, with the
 * checks named in `coerce` (every --host is checked as a host name).
 */
export function declared(spec: CommandSpec, coerce: Coercions = {}): { command: string; describe: string; builder: (y: Argv) => Argv } {
  const host = spec.shared.some((o) => o.name === 'host') ? { host: nameOf('host') } : {};
  return { command: usageOf(spec), describe: spec.describe, builder: yargsBuilder(spec, { ...host, ...coerce }) };
}

export function storeOf(args: CommonArgs): HostStore {
  return new HostStore(stateRoot(args.root));
}

/** shellWord quotes a word for a command a hint suggests, where the shell would split or expand it. */
function shellWord(w: string): string {
  return /^[\w./:@%+=,-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/**
 * onHost is what a hint adds to a command so that it acts on the same host: ` --host k`, or nothing for
 * the default host, and the state directory when one was given with --root (not from $CKPT_ROOT, which the
 * next command sees too).
 */
export function onHost(args: HostArgs): string {
  return `${args.host === DEFAULT_HOST ? '' : ` --host ${args.host}`}${args.root === undefined ? '' : ` --root ${shellWord(args.root)}`}`;
}

/** orCreateArch is the arch to create the host with when it is the default host and does not exist yet. */
export function orCreateArch(args: HostArgs): string | undefined {
  return args.host === DEFAULT_HOST ? DEFAULT_ARCH : undefined;
}

/** verb declares one command with its own argument type; yargs checks the arguments, so the cast is safe. */
export function verb<A>(def: { command: string; describe: string; builder: (y: Argv) => Argv<unknown>; handler: (a: A) => void | Promise<void> }): CommandModule {
  return def as unknown as CommandModule;
}

/** containerOf finds a container on a host, or says which ones the host has. */
export function containerOf(m: Machine, name: string): Container {
  const c = m.containers.get(name);
  // the host's other containers may not have been loaded (a command loads only those it names)
  const names = [...m.containers.keys(), ...m.unloaded];
  if (!c) throw new CliError('CKPT_NO_CONTAINER', `no container ${name} on host ${m.name}${names.length ? ` (it has: ${names.join(', ')})` : ''}`);
  return c;
}
