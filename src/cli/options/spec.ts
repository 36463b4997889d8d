/**
 * A command's options as data: what its help lists and what its parser
 * accepts come from the same declaration (yargs is given it in
 * to-yargs.ts, the help is rendered from it in render-help.ts). These
 * modules import nothing heavy, so `ckpt VERB --help` loads neither yargs
 * nor the verb's code. Checks that need code (a name's rule, a count, a
 * signal) are attached by the command module, by option name.
 */

export interface OptionSpec {
  /** the long name, as typed after `--` */
  readonly name: string;
  /** a one-letter alias, as typed after `-` */
  readonly alias?: string;
  /** every string option needs a value; a boolean takes none (--no-NAME turns one off) */
  readonly type: 'string' | 'boolean';
  readonly describe: string;
  readonly default?: string | boolean;
  readonly choices?: readonly string[];
  readonly required?: boolean;
}

export interface PositionalSpec {
  readonly name: string;
  readonly describe: string;
  readonly required: boolean;
}

export interface CommandSpec {
  /** the word that names it: dump, or create under host */
  readonly name: string;
  readonly describe: string;
  readonly positionals: readonly PositionalSpec[];
  /** the options every command of its kind takes (SHARED), before its own */
  readonly shared: readonly OptionSpec[];
  /** the command's own options */
  readonly options: readonly OptionSpec[];
  /** each a command line and what it does */
  readonly examples: ReadonlyArray<readonly [string, string]>;
  /** the commands under it (host create, ...) */
  readonly subcommands?: readonly CommandSpec[];
}

/** DEFAULT_HOST is used when --host is not given; it is created (x86_64) on first use. */
export const DEFAULT_HOST = 'default';
/** LINUX_HOST: the reserved name of the machine itself (`--host linux`). */
export const LINUX_HOST = 'linux';

export const ROOT: OptionSpec = { name: 'root', type: 'string', describe: 'state directory (default: $CKPT_ROOT, else $XDG_STATE_HOME/ckpt, else ~/.local/state/ckpt)' };
export const JSON_OUTPUT: OptionSpec = { name: 'json', type: 'boolean', default: false, describe: 'print the result (or the error) as one JSON value on stdout' };
export const QUIET: OptionSpec = { name: 'quiet', alias: 'q', type: 'boolean', default: false, describe: 'no progress bars' };
export const HOST: OptionSpec = { name: 'host', type: 'string', default: DEFAULT_HOST, describe: 'the simulated host, or linux: the machine itself (real processes; docs/real-backend.md)' };

/** The options shared by kinds of command: every command's, and those of a command that acts on a host. */
export const SHARED = {
  none: [] as readonly OptionSpec[],
  common: [ROOT, JSON_OUTPUT, QUIET] as readonly OptionSpec[],
  host: [ROOT, JSON_OUTPUT, QUIET, HOST] as readonly OptionSpec[],
} as const;

/** DEBUG is taken by every command line, before or after the verb. */
export const DEBUG: OptionSpec = { name: 'debug', type: 'boolean', default: false, describe: 'print the stack trace of any error' };

/** The options the command line itself answers, whatever the verb: listed in every help. */
export const GLOBAL: readonly OptionSpec[] = [
  DEBUG,
  { name: 'help', alias: 'h', type: 'boolean', describe: 'Show help' },
  { name: 'version', type: 'boolean', describe: 'Show version number' },
];

/** usageOf is a command's name and positionals as yargs takes them: `dump <ctr>`, `ps [ctr]`. */
export function usageOf(spec: CommandSpec): string {
  return [spec.name, ...spec.positionals.map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`))].join(' ');
}

/** optionsOf lists every option a command takes besides the global ones, shared first. */
export function optionsOf(spec: CommandSpec): readonly OptionSpec[] {
  return [...spec.shared, ...spec.options];
}
