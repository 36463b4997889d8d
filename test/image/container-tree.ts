/** Views of a container's task tree for comparing a restored container with its source, and an image read back through its bytes. */
import type { Machine } from '../../src/container/machine.js';
import type { Task } from '../../src/kernel/task.js';
import { tarBytes, untar } from '../../src/image/archive.js';
import type { ContainerImage } from '../../src/image/container-image.js';
import { decodeImage, encodeImage } from '../../src/image/image-codec.js';

/** containerTree is the tree as the container sees it: pids from its level down, parents, groups and sessions by their ids inside it, sleeps relative to the clock. */
export function containerTree(m: Machine, name: string) {
  const c = m.containers.get(name)!;
  const ns = c.init.pid.ns;
  return m
    .tasksOf(c)
    .map((t: Task) => ({
      nspids: t.nspids.slice(ns.level),
      tgid: t.group.tgid.nrIn(ns),
      ppid: t.parent ? t.parent.pid.nrIn(ns) : 0,
      pgid: t.group.pgrp.nrIn(ns),
      sid: t.group.session.nrIn(ns),
      threads: t.group.threadCount,
      state: t.state,
      blockedIn: t.blockedIn,
      sleepLeft: t.sleepUntil === null ? null : t.sleepUntil - m.host.clock,
      exitStatus: t.exitStatus,
    }))
    .sort((a, b) => a.nspids.join('/').localeCompare(b.nspids.join('/')));
}

/** hostTree lists the container's tasks with their host-level numbers too: identical right after a --host-pids restore. */
export function hostTree(m: Machine, name: string): number[][] {
  return m.tasksOf(m.containers.get(name)!).map((t) => t.nspids);
}

/** throughBytes is what a restore reads back of an image: encoded as a writer does (programs embedded), archived and decoded with every check. */
export function throughBytes(img: ContainerImage): ContainerImage {
  return decodeImage(untar(tarBytes(encodeImage(img, { embedPrograms: true }))));
}
