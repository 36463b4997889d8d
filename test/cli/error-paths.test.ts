/**
 * Issue 5, errors: every error path of the command line, as data: what is
 * run, the exact first line on stderr (message and stable code) and the exit
 * code. No user error prints a stack trace; --debug prints it; --json also
 * gives the error as JSON on stdout; an internal error is exit 70 with a
 * hint. A scan of the sources checks that every message a user error can
 * carry appears in this table, so a new error path cannot go untested.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { O_RDWR } from '../../src/kernel/files.js';
import { run } from '../../src/cli/main.js';
import { Machine } from '../../src/container/machine.js';
import { tarBytes } from '../../src/image/archive.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { dumpContainer } from '../../src/image/dump.js';
import { encodeImage, manifestDigest } from '../../src/image/image-codec.js';
import { rewriteRecord } from '../fuzz/image-mutations.js';
import { HostStore } from '../../src/store/host-store.js';
import { ckptIn } from './run-ckpt.js';
import { libcOf } from '../../src/program/libc.js';

const NESTED = 'images/workloads/nested.wl';
const nestedText = readFileSync(NESTED, 'utf8');

interface Case {
  /** what goes wrong */
  what: string;
  argv: (dir: string) => string[];
  code: 1 | 2;
  /** the exact first line of stderr, or a pattern for lines that name temporary paths */
  line: string | RegExp;
  /** run with this standard stream seen as a terminal (its isTTY set, as Node sets it for a tty) */
  tty?: 'stdin' | 'stdout';
}

let dir: string;
let root: string;
const state = (): string => root;

/** image writes a tampered or plain image of a small nested container and returns its path. */
function image(name: string, change: (img: ContainerImage) => void = () => undefined, arch = 'x86_64', embed = true): string {
  const m = Machine.create('src', arch);
  const c = m.run('img', NESTED, nestedText);
  m.scheduler.run(30);
  const img = dumpContainer(m, c);
  change(img);
  const path = join(dir, `${name}.tar`);
  writeFileSync(path, tarBytes(encodeImage(img, { embedPrograms: embed })));
  return path;
}

const CASES: Case[] = [
  // yargs: usage
  { what: 'an unknown command', argv: () => ['frobnicate'], code: 2, line: 'ckpt: unknown command "frobnicate"' },
  { what: 'a mistyped command', argv: () => ['dupm', 'web'], code: 2, line: 'ckpt: unknown command "dupm" (did you mean dump?)' },
  { what: 'an option before any command', argv: () => ['--colour'], code: 2, line: 'ckpt: unknown option --colour (name a command first: ckpt COMMAND --colour)' },
  { what: 'an unknown option', argv: () => ['ps', '--colour'], code: 2, line: 'ckpt: unknown option --colour' },
  { what: 'a mistyped option', argv: () => ['kill', 'web', '--sig', 'STOP'], code: 2, line: 'ckpt: unknown option --sig (did you mean --signal?)' },
  { what: 'an option without its value', argv: () => ['kill', 'web', '--signal'], code: 2, line: 'ckpt: --signal needs a value' },
  { what: 'a missing option', argv: () => ['host', 'create', 'x'], code: 2, line: 'ckpt: missing --arch' },
  { what: 'an argument too many', argv: () => ['logs', 'web', 'more'], code: 2, line: 'ckpt: unexpected argument "more"' },
  { what: 'an unknown architecture for the demo', argv: () => ['demo', '--from', 'vax'], code: 2, line: 'ckpt: --from "vax" is not an architecture: expected one of i386, x86_64, s390, s390x, ppc, ppc64 (or x86, powerpc)' },
  { what: 'a missing argument', argv: () => ['dump'], code: 2, line: 'ckpt: missing argument: the usage is ckpt dump <ctr>' },
  { what: 'host without an action', argv: () => ['host'], code: 2, line: 'ckpt: missing argument: the usage is ckpt host <create|list|show|rm>' },
  { what: 'host with a mistyped action', argv: () => ['host', 'craete', 'x', '--arch', 'i386'], code: 2, line: 'ckpt: unknown action "craete" for ckpt host (did you mean create?): use create, list, show or rm' },
  { what: 'a value outside the choices', argv: () => ['restore', 'x.tar', '--via', 'fork'], code: 2, line: 'ckpt: --via fork is not one of eclone, clone3' },
  { what: 'no command', argv: () => [], code: 2, line: 'ckpt: name a command; try: ckpt demo' },
  // host verbs
  { what: 'an unknown architecture', argv: () => ['host', 'create', 'x', '--arch', 'sparc'], code: 2, line: 'ckpt: unknown architecture "sparc": expected one of i386, x86_64, s390, s390x, ppc, ppc64 (or x86, powerpc)' },
  { what: 'pid_max out of range', argv: () => ['host', 'create', 'x', '--arch', 'i386', '--pid-max', '100'], code: 2, line: 'ckpt: --pid-max 100 is outside 301..32768 for i386' },
  { what: 'an unknown kernel personality', argv: () => ['host', 'create', 'x', '--arch', 'i386', '--kernel', '3.0'], code: 2, line: 'ckpt: --kernel 3.0 is not one of mainline, 2.6.32' },
  { what: 'a bad host name', argv: () => ['host', 'create', '../evil', '--arch', 'i386'], code: 2, line: `ckpt: bad host name "../evil": use letters, digits, '.', '_' and '-' (at most 64, not starting with '.' or '-') [CKPT_BAD_NAME]` },
  { what: 'a host that exists', argv: () => ['host', 'create', 'default', '--arch', 'i386'], code: 1, line: /^ckpt: host default already exists \(.*default\.host\) \[CKPT_HOST_EXISTS\]$/ },
  { what: 'a missing host', argv: () => ['host', 'show', 'ghost'], code: 1, line: /^ckpt: no host named ghost \(looked for .*ghost\.host\); create it with: ckpt host create ghost --arch x86_64 \[CKPT_HOST_MISSING\]$/ },
  { what: 'a host named linux (the machine itself)', argv: () => ['host', 'create', 'linux', '--arch', 'x86_64'], code: 1, line: 'ckpt: host linux is the machine ckpt runs on, not a simulated host: it always exists (ckpt host show linux), so the name is reserved [CKPT_HOST_EXISTS]' },
  { what: 'removing the machine itself', argv: () => ['host', 'rm', 'linux'], code: 1, line: 'ckpt: host linux is the machine ckpt runs on and cannot be removed: remove its containers with ckpt rm CTR --host linux --force [CKPT_HOST_EXISTS]' },
  { what: 'removing a missing host', argv: () => ['host', 'rm', 'ghost'], code: 1, line: 'ckpt: no host named ghost [CKPT_HOST_MISSING]' },
  { what: 'a corrupt host file', argv: () => ['ps', '--host', 'broken'], code: 1, line: /^ckpt: host file .*broken\.host is unreadable \(.*\); it was left as it is \[CKPT_HOST_CORRUPT\]$/ },
  { what: 'a host locked by a live process', argv: () => ['ps', '--host', 'locked'], code: 1, line: /^ckpt: host locked is locked by process \d+ \(.*locked\.host\.lock\); waited 0\.2 s \(CKPT_LOCK_TIMEOUT\) \[CKPT_HOST_LOCKED\]$/ },
  // container verbs
  { what: 'an unreadable workload', argv: () => ['run', 'x', 'no/such.wl'], code: 1, line: 'ckpt: cannot read workload no/such.wl: ENOENT [CKPT_READ_FAILED]' },
  { what: 'a workload that does not parse', argv: () => ['run', 'x', join(dir, 'bad.wl')], code: 1, line: /^ckpt: .*bad\.wl:2:3: expected 2 arguments for kill, found 1 \[CKPT_PARSE_ERROR\]$/ },
  { what: 'a bad container name', argv: () => ['run', '../x', NESTED], code: 2, line: `ckpt: bad container name "../x": use letters, digits, '.', '_' and '-' (at most 64, not starting with '.' or '-') [CKPT_BAD_NAME]` },
  { what: 'a container name taken', argv: () => ['run', 'web', NESTED], code: 1, line: 'ckpt: container web already exists on host default [CKPT_CONTAINER_EXISTS]' },
  { what: 'a container that cannot start (no pid left)', argv: () => ['run', 'more', NESTED, '--host', 'full'], code: 1, line: 'ckpt: cannot start container more: clone failed with EAGAIN [CKPT_CONTAINER_FAILED]' },
  { what: 'a missing container', argv: () => ['logs', 'ghost'], code: 1, line: 'ckpt: no container ghost on host default (it has: web, done) [CKPT_NO_CONTAINER]' },
  { what: 'an unknown signal', argv: () => ['kill', 'web', '--signal', 'BOGUS'], code: 2, line: 'ckpt: unknown signal "BOGUS": use a number 1..64 or one of KILL, TERM, STOP, CONT, INT, HUP' },
  { what: 'step with nothing named', argv: () => ['step'], code: 2, line: 'ckpt: name a container or give --all' },
  { what: 'step with both', argv: () => ['step', 'web', '--all'], code: 2, line: 'ckpt: give a container or --all, not both' },
  { what: 'step with a bad count', argv: () => ['step', 'web', '--steps', '-3'], code: 2, line: 'ckpt: --steps needs a whole number, not "-3"' },
  { what: 'step with a count that is not a number', argv: () => ['step', 'web', '--steps', 'abc'], code: 2, line: 'ckpt: --steps needs a whole number, not "abc"' },
  { what: 'rm of a running container', argv: () => ['rm', 'web'], code: 1, line: /^ckpt: container web is still running: stop it with ckpt kill web --root \S+, or use --force \[CKPT_CONTAINER_RUNNING\]$/ },
  { what: 'rm of a running container on another host', argv: () => ['rm', 'web', '--host', 'twin'], code: 1, line: /^ckpt: container web is still running: stop it with ckpt kill web --host twin --root \S+, or use --force \[CKPT_CONTAINER_RUNNING\]$/ },
  // dump
  { what: 'dump of a missing container', argv: () => ['dump', 'ghost', '-o', join(dir, 'g.tar')], code: 1, line: 'ckpt: no container ghost on host default (it has: web, done) [CKPT_NO_CONTAINER]' },
  { what: 'dump of a task holding a pidfd of a process outside its container', argv: () => ['dump', 'p', '--host', 'pidfd', '-o', join(dir, 'p.tar')], code: 1, line: /^ckpt: task \d+ has fd 3, a pidfd for pid \d+ outside container p, which cannot be checkpointed \[CKPT_DUMP_REFUSED\]$/ },
  { what: 'dump of a program the host lost', argv: () => ['dump', 'web', '--host', 'lost', '-o', join(dir, 'l.tar')], code: 1, line: `ckpt: program ${NESTED} is not known to host lost [CKPT_DUMP_REFUSED]` },
  { what: 'dump into a directory that does not exist', argv: () => ['dump', 'web', '-o', join(dir, 'nowhere', 'w.tar')], code: 1, line: /^ckpt: cannot write image .*nowhere\/w\.tar: ENOENT \(no such directory\); nothing was written \[CKPT_WRITE_FAILED\]$/ },
  { what: 'dump -o - onto a terminal', argv: () => ['dump', 'web', '-o', '-'], code: 2, tty: 'stdout', line: 'ckpt: -o - writes the image to standard output, which is a terminal here: redirect or pipe it (-o - > FILE, -o - | ckpt restore -), or give -o FILE' },
  { what: 'restore - from a terminal', argv: () => ['restore', '-', '--name', 'typed'], code: 2, tty: 'stdin', line: 'ckpt: - reads the image from standard input, which is a terminal here: pipe or redirect an image into it (ckpt dump CTR -o - | ckpt restore -, or restore - < FILE)' },
  { what: 'dump over a file that exists', argv: () => ['dump', 'web', '-o', join(dir, 'bad.wl')], code: 1, line: /^ckpt: .*bad\.wl exists; give --force to replace it \[CKPT_OUTPUT_EXISTS\]$/ },
  { what: 'dump over a directory', argv: () => ['dump', 'web', '-o', dir], code: 1, line: /^ckpt: cannot write image .*: EISDIR \(it is a directory\); nothing was written \[CKPT_WRITE_FAILED\]$/ },
  { what: 'dump of a task in a namespace outside its container', argv: () => ['dump', 'web', '--host', 'escaped', '-o', join(dir, 'e.tar')], code: 1, line: /^ckpt: a task refers to pid namespace level 0, outside container web \[CKPT_DUMP_REFUSED\]$/ },
  // images
  { what: 'a missing image', argv: () => ['restore', join(dir, 'none.tar')], code: 1, line: /^ckpt: cannot read image .*none\.tar: ENOENT \[CKPT_READ_FAILED\]$/ },
  { what: 'inspect of a missing image', argv: () => ['inspect', join(dir, 'none.tar')], code: 1, line: /^ckpt: cannot read image .*none\.tar: ENOENT \[CKPT_READ_FAILED\]$/ },
  { what: 'not an image', argv: () => ['inspect', join(dir, 'notimage.tar')], code: 1, line: 'ckpt: not a ckpt image: the manifest has the wrong magic [CKPT_NOT_AN_IMAGE]' },
  { what: 'another format version', argv: () => ['inspect', join(dir, 'v2.tar')], code: 1, line: 'ckpt: image format version 2 is not supported (this ckpt reads version 1) [CKPT_BAD_VERSION]' },
  { what: 'a damaged entry', argv: () => ['restore', join(dir, 'damaged.tar')], code: 1, line: 'ckpt: tasks.cbor does not match its SHA-256 in the manifest [CKPT_BAD_CHECKSUM]' },
  { what: 'a record of the wrong shape', argv: () => ['restore', join(dir, 'shape.tar')], code: 1, line: 'ckpt: scheduler.cbor: round: Invalid input: expected array, received string [CKPT_BAD_RECORD]' },
  { what: 'an inconsistent image', argv: () => ['restore', join(dir, 'cycle.tar')], code: 1, line: /^ckpt: task \d+'s parent \d+ belongs to no process that comes before it \(a parent cycle, or an order ckpt never writes\) \[CKPT_INCONSISTENT\]$/ },
  { what: 'an image reaching above its container', argv: () => ['restore', join(dir, 'escalate.tar')], code: 1, line: "ckpt: task 1 would run in the host's user namespace, with its capabilities there [CKPT_PRIVILEGE]" },
  { what: 'a program neither in the image nor on the target', argv: () => ['restore', join(dir, 'noprog.tar')], code: 1, line: /^ckpt: program .*elsewhere\.wl \(sha256 [0-9a-f]{12}…\) is not in the image and was not found on the target; make it available there \(images are self-contained unless dumped with --no-embed-programs\) \[CKPT_MISSING_PROGRAM\]$/ },
  // restore refusals
  { what: 'a container name taken on the target', argv: () => ['restore', join(dir, 'plain.tar'), '--name', 'web'], code: 1, line: 'ckpt: a container named web already exists on host default [CKPT_NAME_TAKEN]' },
  { what: 'a bad name for the restored container', argv: () => ['restore', join(dir, 'plain.tar'), '--name', 'a/b'], code: 2, line: `ckpt: bad container name "a/b": use letters, digits, '.', '_' and '-' (at most 64, not starting with '.' or '-') [CKPT_BAD_NAME]` },
  { what: 'an incompatible architecture', argv: () => ['restore', join(dir, 'plain.tar'), '--host', 'small32'], code: 1, line: 'ckpt: cannot restore a x86_64 image on host small32 (i386): x86_64 is a 64-bit ABI and i386 is 32-bit: registers, addresses and the 64-bit mode cannot be represented [CKPT_ARCH_MISMATCH]' },
  { what: 'a pid above the target pid_max', argv: () => ['restore', join(dir, 'bigpid.tar'), '--host', 'tiny', '--host-pids'], code: 1, line: "ckpt: the image uses pid 5000, not below host tiny's pid_max 400 [CKPT_PID_MAX]" },
  { what: 'a host pid collision', argv: () => ['restore', join(dir, 'plain.tar'), '--host-pids', '--name', 'again', '--host', 'twin'], code: 1, line: /^ckpt: host pid \d+ \(task 1 of the image\) is held by task \d+ on host twin: eclone would fail with EBUSY(; .*)? \[CKPT_PID_COLLISION\]$/ },
  { what: 'host pids for a container that was not directly under a host', argv: () => ['restore', join(dir, 'deep.tar'), '--name', 'deep', '--host-pids'], code: 1, line: "ckpt: --host-pids: the image's container sat at pid-namespace level 2 on its source, but would come back at level 1 directly under the host, so its pids above the container have no counterpart to keep [CKPT_UNSUPPORTED]" },
  { what: 'restoring into a container that does not exist', argv: () => ['restore', join(dir, 'plain.tar'), '--name', 'n2', '--into', 'ghost'], code: 1, line: 'ckpt: --into ghost: no container of that name on host default [CKPT_NO_CONTAINER]' },
  { what: 'a check that finds problems', argv: () => ['check', join(dir, 'plain.tar'), '--name', 'web'], code: 1, line: '' },
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ckpt-errors-'));
  root = join(dir, 'state');
  process.env['CKPT_LOCK_TIMEOUT'] = '0.2';
  const store = new HostStore(root);
  await ckptIn(root, ['run', 'web', NESTED, '--steps', '10']);
  await ckptIn(root, ['run', 'done', NESTED, '--steps', '1']);
  writeFileSync(join(dir, 'bad.wl'), 'program main\n  kill(1)\nend\n');
  // hosts set up in-process for the paths the command line cannot reach by itself
  writeFileSync(join(root, 'hosts', 'broken.host'), 'not cbor at all');
  store.create('locked', 'x86_64');
  writeFileSync(join(root, 'hosts', 'locked.host.lock'), String(process.pid));
  const full = Machine.create('full', 'x86_64', 301);
  const filler = full.run('filler', 'sleepers.wl', 'program main\n  sleep 100000000\nend\n');
  full.scheduler.run(1);
  while (libcOf(full.host, full.host.init).fork().child);
  void filler;
  store.add(full);
  const pidfd = Machine.create('pidfd', 'x86_64');
  const p = pidfd.run('p', NESTED, nestedText);
  pidfd.scheduler.run(1);
  // a pidfd of another container's init, as if passed over a socket
  const other = pidfd.run('q', NESTED, nestedText);
  p.init.group.files.install({ kind: 'pidfd', flags: O_RDWR, pid: other.init.pid });
  store.add(pidfd);
  const lost = Machine.create('lost', 'x86_64');
  lost.run('web', NESTED, nestedText);
  lost.sources.delete(NESTED);
  store.add(lost);
  const escaped = Machine.create('escaped', 'x86_64');
  const e = escaped.run('web', NESTED, nestedText);
  e.init.pidNsForChildren = escaped.host.rootPidNs;
  store.add(escaped);
  store.create('small32', 'i386');
  store.create('tiny', 'x86_64', 400);
  const twin = Machine.create('twin', 'x86_64');
  twin.run('web', NESTED, nestedText);
  store.add(twin);
  // images
  const notManifest = Uint8Array.from([0xa1, 0x61, 0x78, 0x01]);
  writeFileSync(join(dir, 'notimage.tar'), tarBytes([['manifest.cbor', notManifest], ['manifest.sha256', manifestDigest(notManifest)]]));
  const plain = image('plain');
  void plain;
  const v2 = new Uint8Array(readFileSync(plain));
  writeFileSync(join(dir, 'v2.tar'), v2);
  rewrite('v2.tar', 'manifest.cbor', (m) => ({ ...(m as object), formatVersion: 2 }));
  writeFileSync(join(dir, 'damaged.tar'), v2);
  rewrite('damaged.tar', 'tasks.cbor', (t) => ({ ...(t as object), init: 99 }), false);
  writeFileSync(join(dir, 'shape.tar'), v2);
  rewrite('shape.tar', 'scheduler.cbor', () => ({ round: 'soon' }));
  image('cycle', (img) => {
    // task 1 becomes the child of the last process: each is then the other's ancestor
    const last = img.tasks.map((t, i) => (t.leader === i ? i : -1)).filter((i) => i > 1).pop()!;
    const old = img.tasks[img.tasks[1]!.parent]!;
    old.children = old.children.filter((c) => c !== 1);
    img.tasks[1]!.parent = last;
    img.tasks[last]!.children.push(1);
  });
  image('escalate', (img) => void (img.tasks[1]!.cred[3] = -1));
  image(
    'noprog',
    (img) => {
      img.programs = img.programs.map(([, text]) => [join(dir, 'elsewhere.wl'), text]);
      for (const t of img.tasks) if (t.exePath) t.exePath = join(dir, 'elsewhere.wl');
    },
    'x86_64',
    false,
  );
  // a host-level pid: on a mainline host the container's own namespaces each have a pid_max of their own
  image('bigpid', (img) => void (img.tasks[1]!.outer[0] = 5000));
  image('deep', (img) => {
    img.base = 2;
    for (const t of img.tasks) t.outer = [...t.outer, 9];
  });
});

afterAll(() => {
  delete process.env['CKPT_LOCK_TIMEOUT'];
  rmSync(dir, { recursive: true, force: true });
});

/** rewrite replaces one record of an image file, keeping the digests valid unless `reseal` is false. */
function rewrite(file: string, entry: string, change: (record: unknown) => unknown, reseal = true): void {
  const path = join(dir, file);
  writeFileSync(path, rewriteRecord(new Uint8Array(readFileSync(path)), entry, change, !reseal));
}

/** fixedParts reads a string or template literal starting at `at` and returns its text outside ${...} (which may nest literals). */
function fixedParts(text: string, at: number, quote: string): string[] {
  const parts = [''];
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    const c = text[i]!;
    if (depth === 0 && c === quote) break;
    if (depth === 0 && quote === '`' && c === '$' && text[i + 1] === '{') {
      depth = 1;
      i++;
      parts.push('');
    } else if (depth > 0) {
      if (c === '{') depth++;
      else if (c === '}') depth--;
    } else parts[parts.length - 1] += c;
  }
  return parts;
}

/** stateFiles lists every file of the state directory's hosts (host files and their parts) with its size. */
function stateFiles(): string[] {
  const hosts = join(state(), 'hosts');
  return (readdirSync(hosts, { recursive: true }) as string[])
    .filter((f) => statSync(join(hosts, f)).isFile())
    .sort()
    .map((f) => `${f}:${readFileSync(join(hosts, f)).length}`);
}

describe('every error path of the command line', () => {
  for (const c of CASES) {
    it(`${c.what}: exit ${c.code}, one line, no stack trace`, async () => {
      const before = stateFiles();
      const stream = c.tty ? process[c.tty] : null;
      const wasTty = stream?.isTTY;
      if (stream) Object.defineProperty(stream, 'isTTY', { value: true, configurable: true, writable: true });
      let r;
      try {
        r = await ckptIn(state(), c.argv(dir));
      } finally {
        if (stream) Object.defineProperty(stream, 'isTTY', { value: wasTty, configurable: true, writable: true });
      }
      expect(r.code, r.err).toBe(c.code);
      const first = r.err.split('\n')[0] ?? '';
      if (c.what === 'a check that finds problems') expect(r.out).toContain('would not restore on host default:\n  - a container named web already exists on host default [CKPT_NAME_TAKEN]');
      else if (typeof c.line === 'string') expect(c.line.endsWith(':') ? first.slice(0, c.line.length) : first).toBe(c.line);
      else expect(first).toMatch(c.line);
      expect(r.err).not.toMatch(/\n\s+at /);
      // a failed command changes no host file
      expect(stateFiles()).toEqual(before);
    });
  }

  it('--debug adds the stack trace of a user error', async () => {
    const r = await ckptIn(state(), ['logs', 'ghost', '--debug']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^ckpt: no container ghost on host default.*\nCliError: no container ghost[^\n]*\n\s+at /s);
  });

  it('--json gives the error as JSON on stdout, with its code and every problem', async () => {
    const r = await ckptIn(state(), ['restore', join(dir, 'plain.tar'), '--name', 'web', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual({
      error: {
        code: 'CKPT_NAME_TAKEN',
        message: 'a container named web already exists on host default',
        problems: [{ code: 'CKPT_NAME_TAKEN', message: 'a container named web already exists on host default' }],
      },
    });
  });

  it('an internal error is exit 70 with a hint, and its stack only with --debug', async () => {
    const boom = (): never => {
      throw new TypeError('boom');
    };
    const err: string[] = [];
    expect(await run(['host', 'list', '--root', join(dir, 'empty')], { out: boom, err: (l) => err.push(l) })).toBe(70);
    expect(err).toEqual(['ckpt: internal error: boom', 'ckpt: this is a bug; rerun with --debug for the stack trace and report it']);
    const debug: string[] = [];
    expect(await run(['host', 'list', '--root', join(dir, 'empty'), '--debug'], { out: boom, err: (l) => debug.push(l) })).toBe(70);
    expect(debug[0]).toBe('ckpt: internal error: boom');
    expect(debug[1]).toMatch(/^TypeError: boom\n\s+at /);
  });

  it('every message a user error can carry is in the table above', () => {
    const sources = ['src/cli', 'src/cli/commands', 'src/store', 'src/container', 'src/image', 'src/program'].flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.ts')).map((f) => join(d, f)));
    const expected = CASES.map((c) => (typeof c.line === 'string' ? c.line : c.line.source.replace(/\\/g, ''))).join('\n');
    const missing: string[] = [];
    let sites = 0;
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/new (?:UsageError|StoreError|ContainerError|DumpError|CliError)\((?:'CKPT_\w+', )?([`'])/g)) {
        // the longest fixed stretch of the message, between its interpolations
        const fixed = fixedParts(text, m.index + m[0].length, m[1]!).sort((a, b) => b.length - a.length)[0]!;
        sites++;
        if (!expected.includes(fixed)) missing.push(`${file}: ${fixed}`);
      }
    }
    expect(missing).toEqual([]);
    expect(sites).toBeGreaterThanOrEqual(22);
  });
});

describe('each error is reported once', () => {
  it('ckpt host alone: one error line and one hint', async () => {
    const r = await ckptIn(state(), ['host']);
    expect(r.err.split('\n')).toEqual(['ckpt: missing argument: the usage is ckpt host <create|list|show|rm>', 'Try: ckpt host --help']);
  });

  it('logs of a missing container with --json: exactly one JSON object on stdout', async () => {
    const r = await ckptIn(state(), ['logs', 'ghost', '--json']);
    expect(r.code).toBe(1);
    expect(r.out.split('\n')).toHaveLength(1);
    expect(JSON.parse(r.out)).toEqual({ error: { code: 'CKPT_NO_CONTAINER', message: 'no container ghost on host default (it has: web, done)' } });
    expect(r.err.split('\n')).toHaveLength(1);
  });
});
