/**
 * run(argv) is the whole command line: it parses, runs one command and
 * returns the exit code. bin/ckpt.js only sets process.exitCode from it.
 */
import yargs from 'yargs';
import type { CliContext } from './context.js';
import { containerCommands } from './commands/containers.js';
import { demoCommand } from './commands/demo.js';
import { hostCommand } from './commands/host.js';
import { imageCommands } from './commands/images.js';
import { ImageError } from '../image/format.js';
import { RestoreError } from '../image/restore-error.js';
import { DumpError } from '../image/dump.js';
import { ContainerError } from '../container/container.js';
import { ParseError } from '../program/parse.js';
import { StoreError } from '../store/store-error.js';
import { EXIT } from './exit-codes.js';
import { UsageError } from './usage-error.js';

export interface RunIo {
  out?: (line: string) => void;
  err?: (line: string) => void;
}

const EPILOGUE = `Exit codes: ${EXIT.OK} success, ${EXIT.FAILURE} the command found a problem, ${EXIT.USAGE} bad usage, ${EXIT.INTERNAL} internal error (a bug: rerun with --debug and report it).`;

/** isUserError: a problem with the input or the state directory, reported in one line without a stack trace. */
function isUserError(e: unknown): e is Error {
  return e instanceof UsageError || e instanceof StoreError || e instanceof ParseError || e instanceof ContainerError || e instanceof ImageError || e instanceof RestoreError || e instanceof DumpError;
}

/** codeOf is an error's stable code (CKPT_...), when it has one. */
function codeOf(e: Error): string | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('CKPT_') ? code : undefined;
}

/** exitCodeFor: bad usage (including a bad name) is 2; a problem found while doing the work is 1. */
function exitCodeFor(e: Error): number {
  return e instanceof UsageError || (e instanceof StoreError && e.code === 'CKPT_BAD_NAME') ? EXIT.USAGE : EXIT.FAILURE;
}

export async function run(argv: readonly string[], io: RunIo = {}): Promise<number> {
  let code: number = EXIT.OK;
  const out = io.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = io.err ?? ((l: string) => process.stderr.write(`${l}\n`));
  const ctx: CliContext = { out, err, setExitCode: (c) => (code = c) };
  const debug = argv.includes('--debug');
  const json = argv.includes('--json');
  let failed = false;
  const parser = yargs([...argv])
    .scriptName('ckpt')
    .usage('ckpt: container checkpoint/restore with identical pids in every nested pid namespace\n\nUsage: $0 <command> [options]')
    .command(demoCommand(ctx))
    .command(hostCommand(ctx))
    .command(containerCommands(ctx))
    .command(imageCommands(ctx))
    .option('debug', { type: 'boolean', default: false, describe: 'print the stack trace of any error' })
    .demandCommand(1, 'name a command; try: ckpt demo')
    .strict()
    .epilogue(EPILOGUE)
    .help()
    .version()
    .exitProcess(false)
    .fail((msg, e) => {
      failed = true;
      if (e && !isUserError(e)) throw e;
      if (e) report(e);
      else report(new UsageError(msg));
      if (!e) err('Try: ckpt --help');
      code = e ? exitCodeFor(e) : EXIT.USAGE;
    })
    .wrap(Math.min(100, process.stdout.columns ?? 100));
  /** report prints a user error: one line on stderr with its code, JSON on stdout for --json, the stack only with --debug. */
  const report = (e: Error): void => {
    const c = codeOf(e);
    err(`ckpt: ${e.message}${c && c !== 'CKPT_USAGE' ? ` [${c}]` : ''}`);
    if (json) {
      const problems = e instanceof RestoreError ? e.problems : undefined;
      out(JSON.stringify({ error: { code: c ?? 'CKPT_USAGE', message: e.message, ...(problems ? { problems } : {}) } }));
    }
    if (debug) err(e.stack ?? '');
  };
  try {
    // The callback form keeps --help and --version output in our hands instead of console.log.
    await parser.parseAsync([...argv], {}, (_e: unknown, _a: unknown, output: string) => {
      if (output && !failed) out(output);
    });
  } catch (e) {
    if (failed && (code === EXIT.USAGE || code === EXIT.FAILURE) && isUserError(e)) return code;
    if (isUserError(e)) {
      report(e);
      return exitCodeFor(e);
    }
    err(`ckpt: internal error: ${(e as Error).message}`);
    if (debug) err((e as Error).stack ?? '');
    else err('ckpt: this is a bug; rerun with --debug for the stack trace and report it');
    return EXIT.INTERNAL;
  }
  return code;
}
