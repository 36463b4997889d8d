/** Options every verb shares, and the store and host they select. */
import type { Argv, CommandModule } from 'yargs';
import { HostStore, stateRoot } from '../store/host-store.js';

export interface CommonArgs {
  root: string | undefined;
  json: boolean;
}

export interface HostArgs extends CommonArgs {
  host: string;
}

/** DEFAULT_HOST is used when --host is not given; it is created (x86_64) on first use. */
export const DEFAULT_HOST = 'default';
export const DEFAULT_ARCH = 'x86_64';

export function withCommon<T>(y: Argv<T>): Argv<T & CommonArgs> {
  return y
    .option('root', { type: 'string', describe: 'state directory (default: $CKPT_ROOT, else $XDG_STATE_HOME/ckpt)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' }) as unknown as Argv<T & CommonArgs>;
}

export function withHost<T>(y: Argv<T>): Argv<T & HostArgs> {
  return withCommon(y).option('host', { type: 'string', default: DEFAULT_HOST, describe: 'the simulated host' }) as unknown as Argv<T & HostArgs>;
}

export function storeOf(args: CommonArgs): HostStore {
  return new HostStore(stateRoot(args.root));
}

/** orCreateArch is the arch to create the host with when it is the default host and does not exist yet. */
export function orCreateArch(args: HostArgs): string | undefined {
  return args.host === DEFAULT_HOST ? DEFAULT_ARCH : undefined;
}

/** verb declares one command with its own argument type; yargs checks the arguments, so the cast is safe. */
export function verb<A>(def: { command: string; describe: string; builder: (y: Argv) => Argv<unknown>; handler: (a: A) => void | Promise<void> }): CommandModule {
  return def as unknown as CommandModule;
}
