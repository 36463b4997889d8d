/** ckpt dump, restore, check and inspect: checkpoint images. */
import { LEGACY_KERNEL } from '../../kernel/personality.js';
import { lstatSync, readFileSync, statSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { Machine } from '../../container/machine.js';
import { ImageError } from '../../image/format.js';
import type { ReadImage } from '../../image/image-file.js';
import type { ContainerImage } from '../../image/container-image.js';
import { dumpContainer } from '../../image/dump.js';
import { pageCount } from '../../codec/image-pages.js';
import { decodeImage, sha256 } from '../../image/image-codec.js';
import { preflight, restoreAtomically, type RestoreOptions } from '../../image/restore.js';
import { RestoreError } from '../../image/restore-error.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../error-codes.js';
import { containerOf, declared, nameOf, orCreateArch, storeOf, verb, LINUX_HOST, linuxHost, type CommonArgs, type HostArgs } from '../options.js';
import { CHECK, DUMP, INSPECT, RESTORE, RESTORE_VIAS } from '../options/images.js';
import { BYTES, progressBar } from '../progress.js';
import { counted } from '../counted.js';
import { printable } from '../printable.js';
import { restorerIsPrivileged } from '../privilege.js';
import { isLayoutReference } from '../../oci/reference.js';
import { CliError, UsageError } from '../usage-error.js';
import { catchSignals, Interrupted, type CaughtSignals } from '../interrupts.js';
import { describe, readImageInput, requireZstd, STDIO, writeImageOutput, type Compression } from '../image-io.js';
import type { Scope } from '../../store/host-store.js';

interface RestoreArgs extends HostArgs {
  image: string;
  name?: string;
  hostPids: boolean;
  via: (typeof RESTORE_VIAS)[number];
  into?: string;
}

/** the largest program file looked at for an image that refers to it by path */
const MAX_PROGRAM_BYTES = 16 * 1024 * 1024;

/** readProgramFile reads a program an image names, only if it is a regular file of sensible size (an image may name /dev/zero). */
function readProgramFile(path: string): string | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_PROGRAM_BYTES) return undefined;
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** resolverFor finds programs an image refers to: on the target host, else as files at their paths. */
function resolverFor(m: Machine | null) {
  return (path: string, hash: string): string | undefined => {
    const known = m?.sources.get(path);
    if (known !== undefined && sha256(known) === hash) return known;
    return readProgramFile(path);
  };
}

function restoreOptions(a: RestoreArgs): RestoreOptions {
  return { ...(a.name ? { name: a.name } : {}), ...(a.into === undefined ? {} : { into: a.into }), hostPids: a.hostPids, via: a.via, privileged: restorerIsPrivileged(a.via) };
}

/** restoreScope: the containers a restore touches: the one it goes --into; all with --host-pids, so a collision names its holder. */
function restoreScope(a: RestoreArgs): Scope {
  return a.hostPids ? 'all' : a.into === undefined ? [] : [a.into];
}

// yargs hands a lone `-` over as an empty string
const imageArg = (s: unknown): string => (s === '' ? STDIO : String(s));
/** the checks of what restore and check take */
const RESTORE_CHECKS = { image: imageArg, name: nameOf('container'), into: nameOf('container') };

/** showsProgress: a bar only where a terminal can take it, and not when asked to be quiet or for JSON. */
function showsProgress(a: CommonArgs): boolean {
  return !a.json && !a.quiet;
}

/** readImage reads an image, with a progress bar on a terminal for a large one, or the image an oci:DIR[:TAG] reference names. */
async function readImage(path: string, a: CommonArgs, signal?: AbortSignal): Promise<ReadImage> {
  // from a terminal, `-` would wait for an image typed in: say how it is meant instead
  if (path === STDIO && process.stdin.isTTY) throw new UsageError('- reads the image from standard input, which is a terminal here: pipe or redirect an image into it (ckpt dump CTR -o - | ckpt restore -, or restore - < FILE)');
  // the OCI code is loaded only for a layout reference
  if (isLayoutReference(path)) return (await import('./oci.js')).readImageFromLayout(path);
  const bar = progressBar('reading', showsProgress(a), BYTES);
  try {
    return await readImageInput(path, (done, total) => bar.update(done, total), signal);
  } finally {
    bar.stop();
  }
}

/** interruptedOr turns what a caught signal made the work throw into the one line saying what state is left. */
function interruptedOr(signals: CaughtSignals, e: unknown, left: string): unknown {
  const sig = signals.received();
  return sig ? new Interrupted(sig, `interrupted by ${sig}: ${left}`) : e;
}

/** lateSignal reports a signal that came once the commit was under way: the work completed. */
function lateSignal(ctx: CliContext, signals: CaughtSignals, what: string): void {
  const sig = signals.received();
  if (sig) ctx.err(`ckpt: ${sig} came after the ${what} had begun its commit; it completed`);
}

/** tree renders the image's tasks as an indented tree, every pid level shown. */
function tree(img: ContainerImage): string[] {
  const lines: string[] = [];
  const walk = (i: number, depth: number): void => {
    const t = img.tasks[i]!;
    const state = t.exited ? 'Z' : t.group.stopped ? 'T' : t.blockedIn ? 'S' : 'R';
    const thread = t.leader !== i ? ' (thread)' : '';
    lines.push(`${'  '.repeat(depth)}${[...t.outer, ...t.numbers].join('/')} ${state} ${printable(t.comm)}${thread}${t.blockedIn ? ` [${t.blockedIn}]` : ''}`);
    img.tasks.forEach((x, j) => {
      if (x.leader === i && j !== i) walk(j, depth + 1);
    });
    for (const c of t.children) walk(c, depth + 1);
  };
  walk(img.init, 0);
  return lines;
}

/** defaultOutput is where a dump goes when -o is not given. */
function defaultOutput(ctr: string, compress: Compression): string {
  return `${ctr}.ckpt.tar${compress === 'gzip' ? '.gz' : compress === 'zstd' ? '.zst' : ''}`;
}

/** exists: a file at the path that a dump would replace, a dangling symlink included (a directory is not replaced: the write says EISDIR). */
function exists(path: string): boolean {
  try {
    return !lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

interface DumpArgs extends HostArgs {
  ctr: string;
  output?: string;
  leaveRunning: boolean;
  embedPrograms: boolean;
  compress: Compression;
  force: boolean;
}

export function imageCommands(ctx: CliContext): CommandModule[] {
  return [
    verb<DumpArgs>({
      ...declared(DUMP, { ctr: nameOf('container') }),
      handler: async (a) => {
        const toStdout = a.output === STDIO;
        const out = a.output ?? defaultOutput(a.ctr, a.compress);
        // Refusals first: nothing is touched for a dump that cannot write where it was told to.
        if (a.compress === 'zstd') await requireZstd();
        if (!toStdout && !a.force && exists(out)) throw new CliError('CKPT_OUTPUT_EXISTS', `${out} exists; give --force to replace it`);
        // an image is binary: written to a terminal it would only scramble it
        if (toStdout && process.stdout.isTTY) throw new UsageError('-o - writes the image to standard output, which is a terminal here: redirect or pipe it (-o - > FILE, -o - | ckpt restore -), or give -o FILE');
        const signals = catchSignals();
        let info;
        try {
          const L = a.host === LINUX_HOST ? await linuxHost() : null;
          if (L) await L.requireLinux();
          info = L
            ? await L.withTwin(storeOf(a), async (twin, m) => {
                const c = containerOf(m, a.ctr);
                const dumped = await L.dumpRealContainer(twin, m, c, a.leaveRunning);
                const img = dumped.image;
                let size: number;
                try {
                  size = await writeImageOutput(out, img, { embedPrograms: a.embedPrograms, compress: a.compress, signal: signals.signal });
                } catch (e) {
                  await dumped.thaw(); // no image: the container runs on as it was
                  throw e;
                }
                // The commit: the image is in place; the container goes as on a model host
                if (!a.leaveRunning) L.realRemove(storeOf(a).root, m, c, twin.agents);
                return { image: toStdout ? STDIO : out, container: c.name, arch: img.arch, tasks: img.tasks.length, bytes: size, compress: a.compress, leftRunning: a.leaveRunning, freezer: dumped.freezer };
              })
            : await storeOf(a).updateAsync(a.host, async (m) => {
            const c = containerOf(m, a.ctr);
            const bar = progressBar('dumping', showsProgress(a));
            // the image is encoded and written before the machine runs again, so it may share the page frames
            const img = dumpContainer(m, c, { shareFrames: true, onProgress: (done, total) => bar.update(done, total) });
            bar.stop();
            const writing = progressBar('writing', showsProgress(a), BYTES);
            let size: number;
            try {
              size = await writeImageOutput(out, img, { embedPrograms: a.embedPrograms, compress: a.compress, signal: signals.signal, onProgress: (done, total) => writing.update(done, total) });
            } finally {
              writing.stop();
            }
            // The commit: the image is in place; the host file is saved next, with no step between that a signal could stop.
            if (!a.leaveRunning) m.remove(c);
            return { image: toStdout ? STDIO : out, container: c.name, arch: img.arch, tasks: img.tasks.length, bytes: size, compress: a.compress, leftRunning: a.leaveRunning };
          }, [a.ctr], !a.leaveRunning); // a dump that leaves the container running changes nothing: the host is not written
        } catch (e) {
          throw interruptedOr(signals, e, `no image was written${toStdout ? ' (standard output has an incomplete one)' : ''}; container ${a.ctr} is still running and host ${a.host} is unchanged`);
        } finally {
          signals.release();
        }
        // with -o -, standard output is the image: the report goes to stderr
        const say = toStdout ? ctx.err : ctx.out;
        const frozen = 'freezer' in info ? `, frozen ${info.freezer === 'cgroup' ? 'by the cgroup v2 freezer' : 'with SIGSTOP'} while read` : '';
        say(a.json ? JSON.stringify(info) : `dumped ${info.container} (${info.arch}, ${counted(info.tasks, 'task')}) to ${describe(info.image, 'output')}, ${info.bytes} bytes${info.compress === 'none' ? '' : ` before ${info.compress}`}${frozen}${info.leftRunning ? '; it is still running' : '; it was removed'}`);
        lateSignal(ctx, signals, 'dump');
      },
    }),
    verb<RestoreArgs>({
      ...declared(RESTORE, RESTORE_CHECKS),
      handler: async (a) => {
        const signals = catchSignals();
        let read: ReadImage;
        try {
          read = await readImage(a.image, a, signals.signal);
        } catch (e) {
          throw interruptedOr(signals, e, `the image was not read whole; host ${a.host} is unchanged`);
        }
        if (a.host === LINUX_HOST) {
          const L = await linuxHost();
          await L.requireLinux();
          let real;
          try {
            real = await L.withTwin(storeOf(a), async (twin, m) => {
              const img = decodeImage(read.entries, resolverFor(m), read.digests);
              const c = await L.restoreReal(twin, m, img, a);
              return { container: c.name, host: LINUX_HOST, via: 'clone3', tasks: m.tasksOf(c).length, initPid: c.init.pid.nr };
            });
          } finally {
            signals.release();
          }
          ctx.out(a.json ? JSON.stringify(real) : `restored ${real.container} on the machine (--host linux) with clone3: ${counted(real.tasks, 'task')}, init is pid ${real.initPid} on the machine`);
          lateSignal(ctx, signals, 'restore');
          return;
        }
        let out;
        try {
          // From here to the saved host file nothing waits, so a signal cannot come between: it is reported once the restore has completed.
          out = storeOf(a).replace(
            a.host,
            (m) => {
              const img = decodeImage(read.entries, resolverFor(m), read.digests);
              const bar = progressBar('restoring', showsProgress(a));
              let restored;
              try {
                // the image was read for this restore alone, so its page bytes can become the frames
                restored = restoreAtomically(m, img, { ...restoreOptions(a), adoptPages: true, onProgress: (done, total) => bar.update(done, total) });
              } finally {
                bar.stop();
              }
              const { machine, container } = restored;
              const tasks = machine.tasksOf(container);
              return { machine, out: { container: container.name, host: machine.name, via: a.via, tasks: tasks.length, initPid: container.init.pid.nr } };
            },
            orCreateArch(a),
            restoreScope(a),
          );
        } finally {
          signals.release();
        }
        ctx.out(a.json ? JSON.stringify(out) : `restored ${out.container} on host ${out.host} with ${out.via}: ${counted(out.tasks, 'task')}, init is pid ${out.initPid} on the host`);
        lateSignal(ctx, signals, 'restore');
      },
    }),
    verb<RestoreArgs>({
      ...declared(CHECK, RESTORE_CHECKS),
      handler: async (a) => {
        const problems = await reasonsNotToRestore(a);
        ctx.setExitCode(problems.length === 0 ? EXIT.OK : EXIT.FAILURE);
        const image = describe(a.image, 'input');
        if (a.json) return ctx.out(JSON.stringify({ image: a.image, host: a.host, restorable: problems.length === 0, reasons: problems }));
        if (problems.length === 0) return ctx.out(`${image} would restore on host ${a.host}`);
        ctx.out(`${image} would not restore on host ${a.host}:`);
        for (const p of problems) ctx.out(`  - ${p.message} [${p.code}]`);
      },
    }),
    verb<CommonArgs & { image: string; tree: boolean }>({
      ...declared(INSPECT, { image: imageArg }),
      handler: async (a) => {
        const { entries, digests } = await readImage(a.image, a);
        const img = decodeImage(entries, null, digests);
        if (a.json) {
          return ctx.out(
            JSON.stringify({
              container: img.name,
              arch: img.arch,
              kernel: img.kernel ?? LEGACY_KERNEL,
              pidMax: img.pidMax,
              namespaces: img.pidNs.map(([parent, userNs, lastPid, accepting]) => ({ parent, userNs, lastPid, accepting })),
              tasks: img.tasks.map((t) => ({ nspids: [...t.outer, ...t.numbers], leader: t.leader, parent: t.parent, pgid: t.pgid, sid: t.sid, exited: t.exited, blockedIn: t.blockedIn, comm: t.comm, abi: t.abi })),
              pages: pageCount(img.pages),
              programs: img.programs.map(([path]) => path),
            }),
          );
        }
        ctx.out(`container ${img.name}: ${img.arch}, kernel ${img.kernel ?? LEGACY_KERNEL}, pid_max ${img.pidMax}, ${counted(img.tasks.length, 'task')}, ${counted(img.pidNs.length, 'pid namespace')}, ${counted(pageCount(img.pages), 'distinct page')}`);
        if (a.tree) for (const l of tree(img)) ctx.out(l);
      },
    }),
  ];
}

type Problem = { code: string; message: string };

/**
 * reasonsNotToRestore lists every reason an image would not restore, all at once:
 * the image itself (a bad one stops here, before the state directory is
 * touched), each program that cannot be found, and every refusal of the
 * target (architecture, pids, names, privilege); with none of these, the
 * whole restore is tried on a copy that is thrown away.
 */
async function reasonsNotToRestore(a: RestoreArgs): Promise<Problem[]> {
  let img: ContainerImage;
  let read: ReadImage;
  try {
    read = await readImage(a.image, a);
    img = decodeImage(read.entries, null, read.digests);
  } catch (e) {
    if (e instanceof ImageError) return [{ code: e.code, message: e.message }];
    throw e;
  }
  const problems: Problem[] = [];
  const store = storeOf(a);
  if (a.host === LINUX_HOST) {
    const L = await linuxHost();
    const m = L.readMirror(store);
    try {
      img = decodeImage(read.entries, resolverFor(m), read.digests);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      problems.push(...(e.problems ?? [{ code: e.code, message: e.message }]));
    }
    const why = await L.linuxUnavailable();
    if (why) return [...problems, { code: 'CKPT_NO_REAL_KERNEL', message: `real containers cannot run on this machine: ${why}` }];
    return [...problems, ...L.realCheck(store, img, a)];
  }
  const m = store.exists(a.host) ? store.read(a.host, restoreScope(a)) : null;
  try {
    img = decodeImage(read.entries, resolverFor(m), read.digests);
  } catch (e) {
    if (!(e instanceof ImageError)) throw e;
    problems.push(...(e.problems ?? [{ code: e.code, message: e.message }]));
  }
  // the default host is made on first use
  const arch = orCreateArch(a);
  const target = m ?? (arch ? Machine.create(a.host, arch) : null);
  if (!target) return [...problems, { code: 'CKPT_HOST_MISSING', message: `no host named ${a.host}` }];
  problems.push(...preflight(target, img, restoreOptions(a)));
  if (problems.length > 0) return problems;
  try {
    restoreAtomically(target, img, restoreOptions(a));
  } catch (e) {
    if (e instanceof RestoreError) return [...e.problems];
    throw e;
  }
  return [];
}
