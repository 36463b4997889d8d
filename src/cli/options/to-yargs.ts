/**
 * yargsBuilder turns a command's options as data (spec.ts) into the yargs
 * builder its command module declares, so the parser accepts exactly what
 * the help lists. Checks that need code are given by option or positional
 * name; naming one the command does not have is a bug, caught at once.
 */
import type { Argv, Options, PositionalOptions } from 'yargs';
import { optionsOf, type CommandSpec, type OptionSpec } from './spec.js';

export type Coercions = Readonly<Record<string, (value: unknown) => unknown>>;

/** yargsOption is one option as yargs declares it; a string option always needs its value. */
export function yargsOption(o: OptionSpec, coerce?: (value: unknown) => unknown): Options {
  return {
    type: o.type,
    describe: o.describe,
    ...(o.alias ? { alias: o.alias } : {}),
    ...(o.default === undefined ? {} : { default: o.default }),
    ...(o.choices ? { choices: [...o.choices] } : {}),
    ...(o.required ? { demandOption: true } : {}),
    ...(o.type === 'string' ? { requiresArg: true } : {}),
    ...(coerce ? { coerce } : {}),
  };
}

export function yargsBuilder(spec: CommandSpec, coerce: Coercions = {}): (y: Argv) => Argv {
  const options = optionsOf(spec);
  const unknown = Object.keys(coerce).filter((k) => !options.some((o) => o.name === k) && !spec.positionals.some((p) => p.name === k));
  if (unknown.length > 0) throw new Error(`${spec.name} has no option or positional ${unknown.join(', ')} to check`);
  return (y) => {
    let b = y;
    // a command with sub-commands has the sub-command as its positional: yargs routes it, and it is not an argument of its own
    for (const p of spec.subcommands ? [] : spec.positionals) {
      const c = coerce[p.name];
      const positional: PositionalOptions = { type: 'string', describe: p.describe, ...(p.required ? { demandOption: true } : {}), ...(c ? { coerce: c } : {}) };
      b = b.positional(p.name, positional);
    }
    for (const o of options) b = b.option(o.name, yargsOption(o, coerce[o.name]));
    for (const [command, text] of spec.examples) b = b.example(command, text);
    return b;
  };
}
