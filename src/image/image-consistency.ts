/**
 * checkImage is the semantic check of a decoded image, run after the
 * schemas and before anything is restored: every cross-reference between
 * records must hold and the task tree must be one a Linux host could have
 * had. A hostile or corrupt image stops here with CKPT_INCONSISTENT (or
 * CKPT_PRIVILEGE for the rules that keep an image from granting more than
 * its container had), never deeper in the restore.
 */
import { ALL_CAPS } from '../abi/capabilities.js';
import { MAX_PID_NS_LEVEL, PID_MAX_LIMIT, PID_MAX_MIN } from '../abi/limits.js';
import { NSIG } from '../abi/signals.js';
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../abi/mman.js';
import { placement } from '../arch/compat.js';
import { archByName } from '../arch/registry.js';
import type { ContainerImage } from './container-image.js';
import { pageCount } from '../codec/image-pages.js';
import { ImageError } from './format.js';
import { refCount, refIndex, refPage } from '../codec/address-space-record.js';

/** the most open files a table may hold (fs.nr_open's default, 1024 * 1024) */
const NR_OPEN = 1024 * 1024;

const fail = (why: string): never => {
  throw new ImageError('CKPT_INCONSISTENT', why);
};

const inRange = (i: number, n: number, what: string): void => {
  if (!Number.isInteger(i) || i < 0 || i >= n) fail(`${what} ${i} is out of range (0..${n - 1})`);
};

/** checkNamespaces: parents precede children, the nesting stays within the kernel's 32 levels; returns each pid namespace's level. */
/**
 * pidLimit bounds an image's pids: the host's pid_max on 2.6.32; on mainline each namespace has a
 * pid_max of its own, a new one PID_MAX_LIMIT (kernel/pid_namespace.c create_pid_namespace, v6.14).
 */
function pidLimit(img: ContainerImage): number {
  return img.kernel === 'mainline' ? PID_MAX_LIMIT : img.pidMax;
}

function checkNamespaces(img: ContainerImage): number[] {
  if (img.base < 1 || img.base > MAX_PID_NS_LEVEL) fail(`the container's pid-namespace level ${img.base} is not within 1..${MAX_PID_NS_LEVEL}`);
  img.userNs.forEach(([parent], k) => {
    if (parent < -1 || parent >= k) fail(`user namespace ${k} has parent ${parent}: a parent must come before its children`);
  });
  const levels: number[] = [];
  img.pidNs.forEach(([parent, user, lastPid, , pidMax], k) => {
    if (pidMax !== undefined && (img.kernel !== 'mainline' || pidMax < PID_MAX_MIN || pidMax > PID_MAX_LIMIT)) fail(`pid namespace ${k} has pid_max ${pidMax}: only a mainline host's namespace has its own, within ${PID_MAX_MIN}..${PID_MAX_LIMIT}`);
    if (k === 0 ? parent !== -1 : parent < 0 || parent >= k) fail(`pid namespace ${k} has parent ${parent}: the container's comes first, and a parent before its children`);
    if (user < -1 || user >= img.userNs.length) fail(`pid namespace ${k} has user namespace ${user}, which the image does not hold`);
    const level = k === 0 ? img.base : levels[parent]! + 1;
    if (level > MAX_PID_NS_LEVEL) fail(`pid namespace ${k} would be at level ${level}, deeper than the kernel's ${MAX_PID_NS_LEVEL}`);
    if (lastPid < 0 && img.kernel !== 'mainline') fail(`pid namespace ${k} has last_pid ${lastPid}: only a mainline host's namespace reads -1`);
    if (lastPid >= (pidMax ?? pidLimit(img))) fail(`pid namespace ${k} has last_pid ${lastPid}, not below pid_max ${pidMax ?? pidLimit(img)}`);
    levels.push(level);
  });
  return levels;
}

/** checkPrivilege: every task and namespace lies inside the container's user namespace, and capability sets are sets the kernel could hold. */
function checkPrivilege(img: ContainerImage): void {
  const deny = (why: string): never => {
    throw new ImageError('CKPT_PRIVILEGE', why);
  };
  img.userNs.forEach(([parent], k) => {
    if (k > 0 && parent < 0) deny(`user namespace ${k} hangs directly from the host's: only the container's own user namespace may`);
  });
  const init = img.tasks[img.init]!;
  if (img.userNs.length === 0 || init.cred[3] !== 0) deny("the container's init is not in the container's own user namespace");
  img.pidNs.forEach(([, user], k) => {
    if (user < 0) deny(`pid namespace ${k} would be owned by the host's user namespace`);
  });
  img.tasks.forEach((t, i) => {
    const [, , , user, effective, permitted] = t.cred;
    if (user < 0) deny(`task ${i} would run in the host's user namespace, with its capabilities there`);
    if (!Number.isSafeInteger(effective) || !Number.isSafeInteger(permitted) || effective > ALL_CAPS || permitted > ALL_CAPS) deny(`task ${i} has capability bits the kernel does not define`);
    if (Math.floor(effective / 2 ** 32) & ~Math.floor(permitted / 2 ** 32) || (effective >>> 0) & ~(permitted >>> 0)) deny(`task ${i} has effective capabilities outside its permitted set`);
  });
}

/** checkMemory: mappings page-aligned, ordered and within the address space; every page inside a mapping. */
function checkMemory(img: ContainerImage): void {
  const arch = archByName(img.arch)!;
  const page = arch.pageSize;
  img.mms.forEach(([, vmas, refs], k) => {
    let prev = 0;
    for (const [start, end, prot] of vmas) {
      if (start % page !== 0 || end % page !== 0 || start >= end || start < prev || end > arch.taskSize) fail(`address space ${k} has a bad mapping [${start}, ${end})`);
      if ((prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) fail(`address space ${k} has a mapping with protection ${prot}`);
      prev = end;
    }
    let prevIndex = -1;
    let v = 0;
    const pages = pageCount(img.pages);
    const what = `address space ${k}'s page`;
    // indexed, not for-of, and the message made once: an address space may list 100,000s of pages
    for (let r = 0, n = refCount(refs); r < n; r++) {
      const index = refIndex(refs, r);
      const p = refPage(refs, r);
      inRange(p, pages, what);
      if (index <= prevIndex) fail(`address space ${k} lists page ${index} out of order or twice`);
      prevIndex = index;
      const addr = index * page;
      while (v < vmas.length && vmas[v]![1] <= addr) v++;
      if (v === vmas.length || vmas[v]![0] > addr) fail(`address space ${k} has page ${index} outside every mapping`);
    }
  });
}

/**
 * checkGroups: process group and session ids are pid paths from the container level down to the
 * namespace of the group's pid, an ancestor of the member's (or its own). A group whose leader has
 * gone still holds its pid, so no other task can have that number there. setsid makes the caller
 * leader of a new session and of a new group, both with its own pid, and a session leader cannot
 * change its group (setpgid: EPERM).
 */
function checkGroups(img: ContainerImage, ancestors: readonly number[][], used: ReadonlyMap<string, number>): void {
  const { tasks } = img;
  const byPath = new Set(tasks.map((t) => t.numbers.join('/')));
  tasks.forEach((t, i) => {
    const own = t.numbers.join('/');
    if (t.leader === i && t.group.sessionLeader !== (t.sid?.join('/') === own)) fail(`task ${i} ${t.group.sessionLeader ? 'leads a session other than its own pid' : 'has its own pid as session but does not lead it'}`);
    if (t.leader === i && t.group.sessionLeader && t.pgid?.join('/') !== own) fail(`task ${i} leads a session but is in another process group`);
    for (const [what, id] of [['process group', t.pgid], ['session', t.sid]] as const) {
      if (id === null) continue;
      if (id.length > t.numbers.length) fail(`task ${i}'s ${what} ${id.join('/')} lies deeper than the task itself`);
      const chain = ancestors[t.ns]!;
      id.forEach((nr, d) => {
        if (nr >= pidLimit(img)) fail(`task ${i}'s ${what} ${id.join('/')} has pid ${nr}, not below pid_max ${pidLimit(img)}`);
        const holder = used.get(`${chain[d]}:${nr}`);
        if (!byPath.has(id.join('/')) && holder !== undefined) fail(`task ${i}'s ${what} ${id.join('/')} has no leader, yet task ${holder} holds its pid ${nr}`);
      });
    }
  });
}

/** checkTasks: the task tree, thread groups, pids at every level, and each task's state against its ABI. */
function checkTasks(img: ContainerImage, levels: number[]): void {
  const { tasks } = img;
  inRange(img.init, tasks.length, 'init task');
  const init = tasks[img.init]!;
  if (init.ns !== 0 || init.numbers.length !== 1 || init.numbers[0] !== 1 || init.parent !== -1 || init.leader !== img.init) fail("the init task is not pid 1 of the container's namespace with no parent inside it");
  const imageArch = archByName(img.arch)!;
  const programs = new Set(img.programs.map(([path]) => path));
  // ancestors[k][d]: the pid namespace at container depth d above namespace k (itself last)
  const ancestors: number[][] = [];
  img.pidNs.forEach(([parent], k) => ancestors.push(k === 0 ? [0] : [...ancestors[parent]!, k]));
  const used = new Map<string, number>();
  const childrenOf = new Map<number, number>();
  tasks.forEach((t, i) => {
    const abi = archByName(t.abi)!;
    const p = placement(abi, imageArch);
    if (!p.ok) fail(`task ${i} has ABI ${t.abi}, which a ${img.arch} host does not run`);
    if (t.regs.length !== abi.regs.size) fail(`task ${i} has ${t.regs.length} bytes of ${t.abi} registers, not ${abi.regs.size}`);
    inRange(t.fpu, img.fpus.length, `task ${i}'s FPU state`);
    if (img.fpus[t.fpu]!.length !== abi.fpu.size) fail(`task ${i}'s FPU state is ${img.fpus[t.fpu]!.length} bytes, not ${t.abi}'s ${abi.fpu.size}`);
    const names = new Set<string>();
    for (const [name, bytes] of t.extra) {
      const size = abi.extraState[name];
      if (size === undefined || names.has(name)) fail(`task ${i} has extra state ${JSON.stringify(name)}, which ${t.abi} does not have (or twice)`);
      if (bytes.length !== size) fail(`task ${i}'s ${name} state is ${bytes.length} bytes, not ${size}`);
      names.add(name);
    }
    inRange(t.ns, img.pidNs.length, `task ${i}'s pid namespace`);
    inRange(t.nsForChildren, img.pidNs.length, `task ${i}'s pid namespace for children`);
    if (t.nsForChildren !== t.ns && img.pidNs[t.nsForChildren]![0] !== t.ns) fail(`task ${i}'s children would go to pid namespace ${t.nsForChildren}, neither its own nor a child of it`);
    inRange(t.mm, img.mms.length, `task ${i}'s address space`);
    inRange(t.files, img.files.length, `task ${i}'s file table`);
    if (t.cred[3] >= img.userNs.length) fail(`task ${i}'s user namespace ${t.cred[3]} is out of range`);
    if (t.exePath !== null && !programs.has(t.exePath)) fail(`task ${i} runs ${t.exePath}, which the image does not list`);
    // pids: one per level from the container's namespace down to the task's own, each unique in its namespace
    const chain = ancestors[t.ns]!;
    if (t.numbers.length !== chain.length) fail(`task ${i} has ${t.numbers.length} pid levels but its namespace is ${chain.length} deep in the container`);
    if (t.outer.length !== img.base) fail(`task ${i} has ${t.outer.length} pids above the container, not ${img.base}`);
    for (const nr of [...t.outer, ...t.numbers]) if (nr >= pidLimit(img)) fail(`task ${i} has pid ${nr}, not below the image's pid_max ${pidLimit(img)}`);
    t.numbers.forEach((nr, d) => {
      const key = `${chain[d]}:${nr}`;
      const other = used.get(key);
      if (other !== undefined) fail(`pid ${nr} is used by both task ${other} and task ${i} in pid namespace ${chain[d]} (level ${levels[chain[d]!]})`);
      used.set(key, i);
    });
    // tree: creators come first (so no cycle), threads share their leader's namespace, memory and files.
    // A process's parent is a task, a thread perhaps (the one that forked it, or the sibling thread it
    // went to when that one exited), which may come after it; the parent's thread-group leader may not.
    if (t.leader !== i) {
      if (t.leader < 0 || t.leader >= i) fail(`task ${i}'s thread-group leader ${t.leader} does not come before it`);
      const leader = tasks[t.leader]!;
      if (leader.leader !== t.leader) fail(`task ${i}'s thread-group leader ${t.leader} is not a leader`);
      if (t.ns !== leader.ns || t.mm !== leader.mm || t.files !== leader.files) fail(`thread ${i} does not share its leader's pid namespace, memory and files`);
      if (t.parent !== leader.parent) fail(`thread ${i} has another parent than its leader`);
    } else if (i !== img.init) {
      if (t.parent < 0) fail(`task ${i} has no parent inside the container`);
      inRange(t.parent, tasks.length, `task ${i}'s parent`);
      const process = tasks[t.parent]!.leader;
      if (!(process >= 0 && process < i)) fail(`task ${i}'s parent ${t.parent} belongs to no process that comes before it (a parent cycle, or an order ckpt never writes)`);
      childrenOf.set(t.parent, (childrenOf.get(t.parent) ?? 0) + 1);
    }
    const seen = new Set<number>();
    for (const c of t.children) {
      inRange(c, tasks.length, `task ${i}'s child`);
      if (seen.has(c) || tasks[c]!.parent !== i || tasks[c]!.leader !== c) fail(`task ${i} lists ${c} as a child, but ${c} is not a process whose parent is ${i} (or is listed twice)`);
      seen.add(c);
    }
    if (t.exitSignal < -1 || t.exitSignal > NSIG) fail(`task ${i} has exit signal ${t.exitSignal}`);
  });
  checkGroups(img, ancestors, used);
  tasks.forEach((t, i) => {
    if (t.children.length !== (childrenOf.get(i) ?? 0)) fail(`task ${i} lists ${t.children.length} children but ${childrenOf.get(i) ?? 0} tasks name it as their parent`);
  });
  const due = new Set<number>();
  for (const i of img.round) {
    inRange(i, tasks.length, 'scheduled task');
    if (due.has(i) || tasks[i]!.exited) fail(`task ${i} is due in the scheduler's round twice, or as a zombie`);
    due.add(i);
  }
}

/**
 * checkDumpable: the not-dumpable flag is its address space's, so the live tasks using one all carry
 * the same (an exited task keeps the flag it had at its exit; docs/semantics.md §12). A restore sets
 * the flag on the address space: an image whose live sharers disagree could not come back as it says.
 */
function checkDumpable(img: ContainerImage): void {
  const flagOf = new Map<number, [task: number, nondumpable: boolean]>();
  img.tasks.forEach((t, i) => {
    if (t.exited) return;
    const nondumpable = t.cred[6] === true;
    const first = flagOf.get(t.mm);
    if (first === undefined) flagOf.set(t.mm, [i, nondumpable]);
    else if (first[1] !== nondumpable) fail(`tasks ${first[0]} and ${i} share address space ${t.mm}, but only one of them is marked not dumpable: the flag is the address space's`);
  });
}

/** checkFiles: each table's descriptors distinct and within nr_open, pidfds naming tasks of the image. */
function checkFiles(img: ContainerImage): void {
  img.files.forEach(([, fds], k) => {
    const seen = new Set<number>();
    for (const [fd, kind, , ref] of fds) {
      if (fd >= NR_OPEN || seen.has(fd)) fail(`file table ${k} has descriptor ${fd} twice or beyond ${NR_OPEN}`);
      seen.add(fd);
      if (kind === 'pidfd' && ref !== -1) inRange(ref!, img.tasks.length, `file table ${k}'s pidfd ${fd} task`);
    }
  });
}

/** checkImage throws an ImageError naming the first inconsistency of `img`. */
export function checkImage(img: ContainerImage): void {
  if (img.pidMax < PID_MAX_MIN || img.pidMax > PID_MAX_LIMIT) fail(`pid_max ${img.pidMax} is not within ${PID_MAX_MIN}..${PID_MAX_LIMIT}`);
  const levels = checkNamespaces(img);
  checkTasks(img, levels);
  checkPrivilege(img);
  checkMemory(img);
  checkDumpable(img);
  checkFiles(img);
}
