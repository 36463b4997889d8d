/** ckpt dump, restore, check and inspect: checkpoint images. */
import { readFileSync, statSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { Machine } from '../../container/machine.js';
import { ImageError } from '../../image/format.js';
import { readImageFile, writeImageFile, type ReadImage } from '../../image/image-file.js';
import type { ContainerImage } from '../../image/container-image.js';
import { dumpContainer } from '../../image/dump.js';
import { decodeImage, sha256 } from '../../image/image-codec.js';
import { restoreAtomically, RestoreError, type RestoreOptions } from '../../image/restore.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { orCreateArch, storeOf, verb, withCommon, withHost, type CommonArgs, type HostArgs } from '../options.js';
import { UsageError } from '../usage-error.js';
import { BYTES, progressBar } from '../progress.js';
import { counted } from '../counted.js';
import { printable } from '../printable.js';
import { restorerIsPrivileged } from '../privilege.js';
import type { Scope } from '../../store/host-store.js';

interface RestoreArgs extends HostArgs {
  image: string;
  name?: string;
  hostPids: boolean;
  via: 'eclone' | 'clone3';
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

function withRestoreOptions(y: Argv): Argv<unknown> {
  return withHost(y)
    .positional('image', { type: 'string', demandOption: true, describe: 'the image file (a tar archive)' })
    .option('name', { type: 'string', describe: "the container's name on the target (default: its name in the image)" })
    .option('host-pids', { type: 'boolean', default: false, describe: 'keep the pids at the levels above the container too: the host\'s, and with --into that container\'s (they must be free)' })
    .option('into', { type: 'string', describe: 'restore inside this running container, as a container nested in it (its pid namespace is entered with setns)' })
    .option('via', { choices: ['eclone', 'clone3'] as const, default: 'eclone' as const, describe: 'name the pids with eclone (oldest level first) or clone3 set_tid (innermost first)' });
}

/** readImage reads an image file, with a progress bar on a terminal for a large one. */
async function readImage(path: string, json: boolean): Promise<ReadImage> {
  const bar = progressBar('reading', !json, BYTES);
  try {
    return await readImageFile(path, (done, total) => bar.update(done, total));
  } finally {
    bar.stop();
  }
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

export function imageCommands(ctx: CliContext): CommandModule[] {
  return [
    verb<HostArgs & { ctr: string; output?: string; leaveRunning: boolean; embedFiles: boolean }>({
      command: 'dump <ctr>',
      describe: 'Checkpoint a container into an image file',
      builder: (y: Argv) =>
        withHost(y)
          .positional('ctr', { type: 'string', demandOption: true })
          .option('output', { alias: 'o', type: 'string', describe: 'image file (default: CTR.ckpt.tar)' })
          .option('leave-running', { type: 'boolean', default: false, describe: 'keep the container running after the dump' })
          .option('embed-files', { type: 'boolean', default: false, describe: 'store program text in the image instead of a path and hash' })
          .example('$0 dump web -o web.tar --leave-running', 'checkpoint web and keep it running'),
      handler: async (a) => {
        const out = a.output ?? `${a.ctr}.ckpt.tar`;
        const info = await storeOf(a).updateAsync(a.host, async (m) => {
          const c = m.containers.get(a.ctr);
          if (!c) throw new UsageError(`no container ${a.ctr} on host ${m.name}`);
          const bar = progressBar('dumping', !a.json);
          // the image is encoded and written before the machine runs again, so it may share the page frames
          const img = dumpContainer(m, c, { shareFrames: true, onProgress: (done, total) => bar.update(done, total) });
          bar.stop();
          const writing = progressBar('writing', !a.json, BYTES);
          let size: number;
          try {
            size = await writeImageFile(out, img, { embedPrograms: a.embedFiles, onProgress: (done, total) => writing.update(done, total) });
          } finally {
            writing.stop();
          }
          if (!a.leaveRunning) m.remove(c);
          return { image: out, container: c.name, arch: img.arch, tasks: img.tasks.length, bytes: size, leftRunning: a.leaveRunning };
        }, [a.ctr], !a.leaveRunning); // a dump that leaves the container running changes nothing: the host is not written
        ctx.out(a.json ? JSON.stringify(info) : `dumped ${info.container} (${info.arch}, ${counted(info.tasks, 'task')}) to ${info.image}, ${info.bytes} bytes${info.leftRunning ? '; it is still running' : '; it was removed'}`);
      },
    }),
    verb<RestoreArgs>({
      command: 'restore <image>',
      describe: 'Restore a container from an image, with identical pids at every level of the container',
      builder: (y: Argv) =>
        withRestoreOptions(y)
          .example('$0 restore web.tar --host big', 'bring web back on host big')
          .example('$0 restore web.tar --via clone3 --host-pids', 'mainline clone3, host pids kept too')
          .example('$0 restore web.tar --into pod --host-pids', 'inside running container pod, pids kept at every level'),
      handler: async (a) => {
        const { entries, digests } = await readImage(a.image, a.json);
        const out = storeOf(a).replace(
          a.host,
          (m) => {
            const img = decodeImage(entries, resolverFor(m), digests);
            const bar = progressBar('restoring', !a.json);
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
        ctx.out(a.json ? JSON.stringify(out) : `restored ${out.container} on host ${out.host} with ${out.via}: ${counted(out.tasks, 'task')}, init is pid ${out.initPid} on the host`);
      },
    }),
    verb<RestoreArgs>({
      command: 'check <image>',
      describe: 'Say whether an image would restore, and every reason if not; changes nothing',
      builder: (y: Argv) => withRestoreOptions(y).example('$0 check web.tar --host big --host-pids', 'would it restore with host pids kept?'),
      handler: async (a) => {
        let problems: Array<{ code: string; message: string }> = [];
        try {
          // the image first: a bad one is refused before the state directory is touched
          const { entries, digests } = await readImage(a.image, a.json);
          const store = storeOf(a);
          const m = store.exists(a.host) ? store.read(a.host, restoreScope(a)) : null;
          const img = decodeImage(entries, resolverFor(m), digests);
          // The whole restore, on a copy that is thrown away (the default host is made on first use).
          const arch = orCreateArch(a);
          const target = m ?? (arch ? Machine.create(a.host, arch) : null);
          if (target) restoreAtomically(target, img, restoreOptions(a));
          else problems = [{ code: 'CKPT_HOST_MISSING', message: `no host named ${a.host}` }];
        } catch (e) {
          if (e instanceof RestoreError) problems = [...e.problems];
          else if (e instanceof ImageError) problems = [{ code: e.code, message: e.message }];
          else throw e;
        }
        ctx.setExitCode(problems.length === 0 ? EXIT.OK : EXIT.FAILURE);
        if (a.json) return ctx.out(JSON.stringify({ image: a.image, host: a.host, restorable: problems.length === 0, reasons: problems }));
        if (problems.length === 0) return ctx.out(`${a.image} would restore on host ${a.host}`);
        ctx.out(`${a.image} would not restore on host ${a.host}:`);
        for (const p of problems) ctx.out(`  - ${p.message} [${p.code}]`);
      },
    }),
    verb<CommonArgs & { image: string; tree: boolean }>({
      command: 'inspect <image>',
      describe: 'Show what an image holds',
      builder: (y: Argv) =>
        withCommon(y)
          .positional('image', { type: 'string', demandOption: true })
          .option('tree', { type: 'boolean', default: false, describe: 'the task tree with every pid level' })
          .example('$0 inspect web.tar --tree', 'who is in it, at every level'),
      handler: async (a) => {
        const { entries, digests } = await readImage(a.image, a.json);
        const img = decodeImage(entries, null, digests);
        if (a.json) {
          return ctx.out(
            JSON.stringify({
              container: img.name,
              arch: img.arch,
              pidMax: img.pidMax,
              namespaces: img.pidNs.map(([parent, userNs, lastPid, accepting]) => ({ parent, userNs, lastPid, accepting })),
              tasks: img.tasks.map((t) => ({ nspids: [...t.outer, ...t.numbers], leader: t.leader, parent: t.parent, pgid: t.pgid, sid: t.sid, exited: t.exited, blockedIn: t.blockedIn, comm: t.comm, abi: t.abi })),
              pages: img.pages.length,
              programs: img.programs.map(([path]) => path),
            }),
          );
        }
        ctx.out(`container ${img.name}: ${img.arch}, pid_max ${img.pidMax}, ${counted(img.tasks.length, 'task')}, ${counted(img.pidNs.length, 'pid namespace')}, ${counted(img.pages.length, 'distinct page')}`);
        if (a.tree) for (const l of tree(img)) ctx.out(l);
      },
    }),
  ];
}
