/** Options every verb shares, the checks that make parsing validation, and the store and host they select. */
import type { Argv, CommandModule } from 'yargs';
import type { Container } from '../container/container.js';
import type { Machine } from '../container/machine.js';
import { isValidName, NAME_RULE } from '../container/names.js';
import { HostStore, stateRoot } from '../store/host-store.js';
import { refuse } from './refused.js';
import { CliError, UsageError } from './usage-error.js';

export interface CommonArgs {
  root: string | undefined;
  json: boolean;
  quiet: boolean;
}

export interface HostArgs extends CommonArgs {
  host: string;
}

/** DEFAULT_HOST is used when --host is not given; it is created (x86_64) on first use. */
export const DEFAULT_HOST = 'default';
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

export function withCommon<T>(y: Argv<T>): Argv<T & CommonArgs> {
  return y
    .option('root', { type: 'string', requiresArg: true, describe: 'state directory (default: $CKPT_ROOT, else $XDG_STATE_HOME/ckpt)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the result (or the error) as one JSON value on stdout' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress bars' }) as unknown as Argv<T & CommonArgs>;
}

export function withHost<T>(y: Argv<T>): Argv<T & HostArgs> {
  return withCommon(y).option('host', { type: 'string', requiresArg: true, default: DEFAULT_HOST, coerce: nameOf('host'), describe: 'the simulated host' }) as unknown as Argv<T & HostArgs>;
}

/** withContainer declares positional `ctr`, a container name checked while parsing. */
export function withContainer<T>(y: Argv<T>, describe = 'container name'): Argv<T> {
  return y.positional('ctr', { type: 'string', demandOption: true, coerce: nameOf('container'), describe });
}

export function storeOf(args: CommonArgs): HostStore {
  return new HostStore(stateRoot(args.root));
}

/** onHost is what a hint adds to a command so that it acts on the same host: ` --host k`, or nothing for the default host. */
export function onHost(args: HostArgs): string {
  return args.host === DEFAULT_HOST ? '' : ` --host ${args.host}`;
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
