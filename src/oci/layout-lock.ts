/**
 * One writer at a time per layout: index.json is read, changed and
 * replaced, so two exports into one layout at once would lose a tag. The
 * lock is `DIR/.ckpt-lock` naming its holder's pid, made whole before it
 * appears (written under a private name, then hard-linked into place,
 * which fails if it is there); a lock whose process is gone is taken over.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../image/format.js';
import { processAlive } from '../disk/process-alive.js';
import { writeFailed } from './layout-files.js';

/** files whose names start so are ckpt's own bookkeeping in a layout, not content */
export const PRIVATE_PREFIX = '.ckpt-';
const LOCK = `${PRIVATE_PREFIX}lock`;
/** how long an export waits for another one: CKPT_LOCK_TIMEOUT seconds, 60 by default, as for hosts */
function timeoutMs(): number {
  const s = Number(process.env.CKPT_LOCK_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 60_000;
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** tryLock makes the lock whole under a private name and links it into place; false when another holds it. */
async function tryLock(dir: string): Promise<boolean> {
  const mine = join(dir, `${LOCK}.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    const fh = await open(mine, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      await fh.writeFile(String(process.pid));
    } finally {
      await fh.close();
    }
    await link(mine, join(dir, LOCK));
    return true;
  } catch (e) {
    if (errnoOf(e) === 'EEXIST') return false;
    writeFailed(`the lock of layout ${dir}`, e);
  } finally {
    await rm(mine, { force: true });
  }
}

/** holderOf reads the lock's pid and inode; undefined when it has just gone. */
async function holderOf(path: string): Promise<{ pid: number; ino: number } | undefined> {
  try {
    const { ino } = await stat(path);
    return { pid: Number(await readFile(path, 'utf8')), ino };
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** withLayoutLock runs `fn` holding the layout's lock, waiting for another writer to finish. */
export async function withLayoutLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const path = join(dir, LOCK);
  const deadline = Date.now() + timeoutMs();
  for (let wait = 5; !(await tryLock(dir)); wait = Math.min(wait * 2, 200)) {
    const holder = await holderOf(path);
    if (holder && Number.isInteger(holder.pid) && holder.pid > 0 && !processAlive(holder.pid)) {
      // only the lock looked at: another writer may have taken it over meanwhile
      if ((await holderOf(path))?.ino === holder.ino) await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new ImageError('CKPT_WRITE_FAILED', `layout ${dir} is locked by process ${holder?.pid ?? '?'} (${path}); waited ${timeoutMs() / 1000} s (CKPT_LOCK_TIMEOUT)`);
    await new Promise((r) => setTimeout(r, wait));
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
