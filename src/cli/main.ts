/**
 * run(argv) is the whole command line: it parses, runs one command and
 * returns the exit code. bin/ckpt.js only sets process.exitCode from it.
 *
 * Parsing is validation: the verb named is the only one whose code is
 * loaded (VERBS), yargs checks its options strictly, and a parse that fails
 * throws before any handler runs, so a mistyped option never runs the
 * command with defaults. Every error is reported in one place, once.
 */
import type { Argv, CommandModule } from 'yargs';
import type { CliContext } from './context.js';
import { didYouMean } from './did-you-mean.js';
import { codeOf, EXIT, exitStatusOf } from './error-codes.js';
import { UsageError } from './usage-error.js';
import { commandName, VERBS, type VerbEntry } from './verbs.js';
import { toolVersion } from './version.js';
import { writingImageToStdout } from './stdout-image.js';
import { refusedWith } from './refused.js';
import { holdSignals, Interrupted, takeHeld } from './interrupts.js';
import { DEBUG, HOST, JSON_OUTPUT, QUIET, ROOT, type OptionSpec } from './options/spec.js';
import { yargsOption } from './options/to-yargs.js';
import { optionFlags, renderHelp } from './options/render-help.js';

export interface RunIo {
  out?: (line: string) => void;
  err?: (line: string) => void;
}

const TAGLINE = 'ckpt: container checkpoint/restore with identical pids in every nested pid namespace';
const EPILOGUE = `Exit codes: ${EXIT.OK} success, ${EXIT.FAILURE} the command found a problem, ${EXIT.USAGE} bad usage, ${EXIT.SIGINT}/${EXIT.SIGTERM} stopped by SIGINT/SIGTERM (nothing changed), ${EXIT.INTERNAL} internal error (a bug: rerun with --debug and report it). Errors end in a stable code: see the README's table.`;
/** The options that may come before the verb, as `ckpt --help` lists them. */
const BEFORE_VERB_OPTIONS: readonly OptionSpec[] = [ROOT, HOST, JSON_OUTPUT, QUIET, DEBUG];
/** options that take a value and may come before the verb */
const VALUE_OPTIONS_BEFORE_VERB = new Set(BEFORE_VERB_OPTIONS.filter((o) => o.type === 'string').map((o) => `--${o.name}`));
/** flags every verb takes, so they may come before it */
const FLAGS_BEFORE_VERB = new Set(BEFORE_VERB_OPTIONS.filter((o) => o.type === 'boolean').flatMap((o) => [`--${o.name}`, ...(o.alias ? [`-${o.alias}`] : [])]));

/** topLevelHelp is `ckpt --help`, made from the table of verbs without loading any of them. */
function topLevelHelp(): string {
  const width = Math.max(...VERBS.map((v) => v.usage.length)) + 7;
  return [
    TAGLINE,
    '',
    'Usage: ckpt <command> [options]',
    '',
    'Commands:',
    ...VERBS.map((v) => `  ${`ckpt ${v.usage}`.padEnd(width)}${v.describe}`),
    '',
    'Global options (before or after the command):',
    ...BEFORE_VERB_OPTIONS.map((o) => `  ${optionFlags(o).padEnd(16)}${o.describe}`),
    `  ${'-h, --help'.padEnd(16)}Show help (ckpt COMMAND --help: its options and an example)`,
    `  ${'    --version'.padEnd(16)}Show version number`,
    '',
    EPILOGUE,
  ].join('\n');
}

/** beforeDashDash: the arguments ckpt itself reads (after `--` comes data, never an option). */
function beforeDashDash(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return [...(end < 0 ? argv : argv.slice(0, end))];
}

/** firstPositional is the verb's position: the first argument that is neither an option nor the value of one. */
function firstPositional(args: readonly string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (VALUE_OPTIONS_BEFORE_VERB.has(a)) i++;
    else if (!a.startsWith('-') || a === '-') return i;
  }
  return -1;
}

/** subverbWord is the word after the verb where a sub-verb goes (host CREATE), passing over --root DIR and --host NAME. */
function subverbWord(args: readonly string[], at: number): string | undefined {
  const rest = args.slice(at + 1);
  const i = firstPositional(rest);
  return i < 0 ? undefined : rest[i];
}

/** verbUsage is the usage of what was run, the verb or its sub-verb: a usage error's help hint points at its own help. */
function verbUsage(entry: VerbEntry, args: readonly string[], at: number): { path: string; usage: string } {
  const sub = subverbWord(args, at);
  const usage = entry.subverbs && sub !== undefined && Object.hasOwn(entry.subverbs, sub) ? entry.subverbs[sub] : undefined;
  return usage ? { path: `${entry.name} ${sub}`, usage } : { path: entry.name, usage: entry.usage };
}

/**
 * refuseUnknownSubverb: a verb with sub-verbs given a word that names none (ckpt host creat) is refused
 * naming that word, with a did-you-mean; yargs would complain instead about the sub-verb's options
 * (unknown option --arch) or ask for an action as if none had been given.
 */
function refuseUnknownSubverb(entry: VerbEntry, args: readonly string[], at: number): void {
  if (!entry.subverbs) return;
  const sub = subverbWord(args, at);
  if (sub === undefined || Object.hasOwn(entry.subverbs, sub)) return;
  const names = Object.keys(entry.subverbs);
  const guess = didYouMean(sub, names);
  throw new UsageError(`unknown action ${JSON.stringify(sub)} for ckpt ${entry.name}${guess ? ` (did you mean ${guess}?)` : ''}: use ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`);
}

/** optionWords lists the options a parser knows (dashed, aliases included), for did-you-mean. */
function optionWords(parser: Argv): string[] {
  const opts = (parser as unknown as { getOptions(): unknown }).getOptions() as { key: Record<string, unknown>; alias: Record<string, string[]> };
  const names = new Set([...Object.keys(opts.key), ...Object.values(opts.alias).flat()]);
  return [...names].filter((n) => !/[A-Z]/.test(n) && n !== '$0').map((n) => (n.length === 1 ? `-${n}` : `--${n}`));
}

/** dashed is how an option is written on the command line: -o, --pid-max. */
const dashed = (key: string): string => (key.length === 1 ? `-${key}` : `--${key}`);

/** usageMessage says in one line what yargs refused, naming the option or argument, with a did-you-mean where one is close. */
export function usageMessage(msg: string, args: readonly string[], known: readonly string[], usage: string): string {
  const unknown = /^Unknown arguments?: (.*)$/.exec(msg);
  if (unknown) {
    const words = unknown[1]!.split(', ');
    const given = (w: string): boolean => args.some((a) => a === dashed(w) || a.startsWith(`${dashed(w)}=`) || a === `--no-${w}`);
    const options = words.filter(given);
    if (options.length > 0) {
      return options
        .map((w) => {
          const guess = didYouMean(dashed(w), known);
          return `unknown option ${dashed(w)}${guess ? ` (did you mean ${guess}?)` : ''}`;
        })
        .join('; ');
    }
    return `unexpected argument${words.length > 1 ? 's' : ''} ${words.map((w) => JSON.stringify(w)).join(', ')}`;
  }
  if (/^Not enough non-option arguments/.test(msg)) return `missing argument: the usage is ckpt ${usage}`;
  const following = /^Not enough arguments following: (.*)$/.exec(msg);
  if (following) return `${dashed(following[1]!)} needs a value`;
  const required = /^Missing required arguments?: (.*)$/.exec(msg);
  if (required) {
    // yargs checks required options before unknown ones: a misspelled option is named too, first
    const missing = `missing ${required[1]!.split(', ').map(dashed).join(', ')}`;
    const stray = args.filter((a) => /^--?[a-z]/i.test(a) && !known.includes(a.split('=')[0]!.replace(/^--no-/, '--')));
    return [...stray.map((a) => usageMessage(`Unknown argument: ${a.split('=')[0]!.replace(/^--?/, '')}`, args, known, usage)), missing].join('; ');
  }
  const invalid = /Argument: (\S+), Given: (.*), Choices: (.*)$/m.exec(msg);
  if (invalid) return `${dashed(invalid[1]!)} ${invalid[2]!.replace(/^"(.*)"$/, '$1')} is not one of ${invalid[3]!.replace(/"/g, '')}`;
  return msg.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

/** Report: how an error reaches the user, once: one line on stderr, a help hint for bad usage, one JSON object with --json. */
interface Reporter {
  report(e: unknown, hint: string | undefined): number;
}

function reporter(ctx: CliContext, json: boolean, debug: boolean): Reporter {
  return {
    report(e, hint) {
      const code = codeOf(e);
      const error = e instanceof Error ? e : new Error(String(e));
      if (!code || code === 'CKPT_INTERNAL') {
        ctx.err(`ckpt: internal error: ${error.message}`);
        if (debug) ctx.err(error.stack ?? '');
        else ctx.err('ckpt: this is a bug; rerun with --debug for the stack trace and report it');
        if (json) ctx.out(JSON.stringify({ error: { code: 'CKPT_INTERNAL', message: error.message } }));
        return EXIT.INTERNAL;
      }
      const usage = code === 'CKPT_USAGE';
      ctx.err(`ckpt: ${error.message}${usage ? '' : ` [${code}]`}`);
      if (usage && hint) ctx.err(`Try: ${hint}`);
      if (json) {
        const problems = (e as { problems?: unknown }).problems;
        ctx.out(JSON.stringify({ error: { code, message: error.message, ...(usage && hint ? { hint } : {}), ...(Array.isArray(problems) ? { problems } : {}) } }));
      }
      if (debug) ctx.err(error.stack ?? '');
      return exitStatusOf(e);
    },
  };
}

/**
 * quietOnClosedPipe: when what reads ckpt's output goes away (ckpt ps | head -2), ckpt ends quietly
 * instead of dying with a stack trace; standard output that cannot be written (a full disk:
 * ckpt ps > /dev/full) is one line on stderr and exit 1. A dump writing its image to standard output
 * fails by itself (CKPT_WRITE_FAILED, the container left running), so it is left to do so.
 */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (writingImageToStdout()) return;
    if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK);
    process.stderr.write(`ckpt: cannot write to standard output: ${e.code ?? e.message} [CKPT_WRITE_FAILED]\n`);
    process.exit(EXIT.FAILURE);
  });
}

/** helpWidth: as wide as the terminal, at most 100 columns. */
const helpWidth = (): number => Math.min(100, process.stdout.columns ?? 100);

/** verbHelp is `ckpt VERB --help`, or a sub-verb's (`ckpt host create --help`), rendered from its options as data. */
async function verbHelp(entry: VerbEntry, args: readonly string[], at: number): Promise<string> {
  const { SPECS } = await import('./options/all.js');
  const spec = SPECS[entry.name];
  if (!spec) throw new Error(`verb ${entry.name} is in the table but has no options declared in src/cli/options`);
  // the first word after the verb that names a sub-verb, so that a value before it (--root DIR) is passed over
  const word = args.slice(at + 1).find((a) => spec.subcommands?.some((s) => s.name === a));
  const sub = spec.subcommands?.find((s) => s.name === word);
  return sub ? renderHelp([entry.name, sub.name], sub, helpWidth()) : renderHelp([entry.name], spec, helpWidth());
}

/**
 * commandParser is the yargs parser of one verb's command line: strict, so that an unknown option
 * refuses the command, and failing by throwing, so that a failed parse never reaches a handler.
 * `usage` is the verb's (or sub-verb's) usage, for the message of a missing argument.
 */
export function commandParser(yargs: (args: readonly string[]) => Argv, args: readonly string[], module: CommandModule, usage: string): Argv {
  const parser: Argv = yargs(args)
    .scriptName('ckpt')
    .usage(`${TAGLINE}\n\nUsage: $0 <command> [options]`)
    .command(module)
    .option(DEBUG.name, yargsOption(DEBUG))
    .strict()
    // an option given twice takes its last value, as in most command lines (no option takes a list)
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .epilogue(EPILOGUE)
    .help()
    .alias('help', 'h')
    .version(toolVersion())
    .exitProcess(false)
    // Throwing here is what stops yargs: a failed parse never reaches a handler.
    .fail((msg: string | null, e: Error | undefined) => {
      if (e && e.name !== 'YError') throw e;
      const refused = refusedWith(msg ?? e?.message ?? '');
      if (refused) throw refused;
      throw new UsageError(usageMessage(msg ?? e?.message ?? 'bad usage', args, optionWords(parser), usage));
    })
    .wrap(helpWidth());
  return parser;
}

/**
 * runVerb parses a verb's command line (`args`, the verb's word at `at`) and runs its handler, with
 * the verb as yargs' default command ($0) and its word taken out: yargs renders the help text of
 * every named command it runs, and keeps it in case a handler asks for it (tens of milliseconds of
 * string work on every run), while ckpt answers --help itself from the options as data before yargs
 * is loaded. It returns what yargs printed, if anything.
 */
async function runVerb(yargs: (args: readonly string[]) => Argv, args: readonly string[], at: number, module: CommandModule, usage: string): Promise<string> {
  const rest = [...args.slice(0, at), ...args.slice(at + 1)];
  const command = [module.command ?? []].flat().map((c) => c.replace(/^\S+/, '$0'));
  let shown = '';
  // The callback form keeps anything yargs would print in our hands instead of console.log.
  await commandParser(yargs, rest, { ...module, command }, usage).parseAsync(rest, {}, (_e: unknown, _a: unknown, output: string) => {
    if (output) shown = output;
  });
  return shown;
}

export async function run(argv: readonly string[], io: RunIo = {}): Promise<number> {
  if (!io.out) quietOnClosedPipe();
  let code: number = EXIT.OK;
  const out = io.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = io.err ?? ((l: string) => process.stderr.write(`${l}\n`));
  const ctx: CliContext = { out, err, setExitCode: (c) => (code = c) };
  const args = beforeDashDash(argv);
  const { report } = reporter(ctx, args.includes('--json'), args.includes('--debug'));
  let hint: string | undefined = 'ckpt --help';
  try {
    const at = firstPositional(args);
    if (at < 0) {
      // no verb: --help and --version are answered from the table of verbs, loading none of them
      const answer = args.includes('--version') ? toolVersion() : args.includes('--help') || args.includes('-h') ? topLevelHelp() : null;
      if (answer !== null) {
        out(answer);
        return EXIT.OK;
      }
      const stray = args.find((a, i) => a.startsWith('-') && !FLAGS_BEFORE_VERB.has(a) && !VALUE_OPTIONS_BEFORE_VERB.has(a) && !VALUE_OPTIONS_BEFORE_VERB.has(args[i - 1] ?? ''));
      if (stray) throw new UsageError(`unknown option ${stray.split('=')[0]} (name a command first: ckpt COMMAND ${stray})`);
      throw new UsageError('name a command; try: ckpt demo');
    }
    const entry = VERBS.find((v) => v.name === args[at]);
    if (!entry) {
      const guess = didYouMean(args[at]!, VERBS.map((v) => v.name));
      throw new UsageError(`unknown command ${JSON.stringify(args[at])}${guess ? ` (did you mean ${guess}?)` : ''}`);
    }
    const what = verbUsage(entry, args, at);
    hint = `ckpt ${what.path} --help`;
    // a verb's help and the version are answered from data, loading neither yargs nor the verb's code
    if (args.includes('--help') || args.includes('-h')) {
      out(await verbHelp(entry, args, at));
      return EXIT.OK;
    }
    if (args.includes('--version')) {
      out(toolVersion());
      return EXIT.OK;
    }
    refuseUnknownSubverb(entry, args, at);
    if (entry.catchesSignals) holdSignals();
    const module = [await entry.load(ctx)].flat().find((m) => commandName(m) === entry.name);
    if (!module) throw new Error(`verb ${entry.name} is in the table but its module does not define it`);
    const { default: yargs } = await import('yargs');
    const shown = await runVerb(yargs, args, at, module, what.usage);
    if (shown) out(shown);
    const unclaimed = takeHeld();
    if (unclaimed) throw new Interrupted(unclaimed, `interrupted by ${unclaimed} before ${entry.name} began: nothing changed`);
    return code;
  } catch (e) {
    takeHeld();
    return report(e, hint);
  }
}
