/**
 * HostStore keeps simulated hosts in a state directory: per host a small
 * CBOR file (hosts/NAME.host: the host's own kernel state, its programs and
 * an entry per container part) and a directory of parts (hosts/NAME.parts:
 * per part its record, a column file (column-file.ts; one CBOR record in
 * parts of format 1), and a file of its page bytes), see
 * machine-codec.ts. A command loads only the parts holding the containers
 * it names and writes back only those and the host file. Every change
 * happens under the host's lock file; the parts are written under a new
 * generation's names (each fsynced, then their directory) and the host
 * file, written last and atomically (temporary file, fsync, rename, fsync
 * of the directory), names the parts' generation: concurrent commands never
 * lose an update and a crash leaves the host before or after, never torn.
 * An unreadable host file is an error naming it, never replaced; a host
 * file of the older single-file layout is rewritten in this one on first
 * use.
 */
import { closeSync, fstatSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from 'cbor-x';
import { Machine } from '../container/machine.js';
import { isValidName, NAME_RULE } from '../container/names.js';
import type { KernelName } from '../kernel/personality.js';
import { decodeHost, encodeHost, generationOf, HOST_FORMAT, inheritLedger, isHostFormat, type HostRecord, type LoadedPart } from './machine-codec.js';
import type { PartRecord } from './part-codec.js';
import { decodeLegacyMachine, LEGACY_FORMAT, type LegacyRecord } from './legacy-host-file.js';
import { StoreError } from './store-error.js';
import { decodeColumnFile, encodeColumnFile } from './column-file.js';
import { sweepTemporaries, syncDirectory, writeFileAtomically, writeFileDurably } from '../disk/atomic-file.js';
import { processAlive } from '../disk/process-alive.js';

const HOST_SUFFIX = '.host';
const PARTS_SUFFIX = '.parts';
const PART_SUFFIX = '.part';
const PAGES_SUFFIX = '.pages';

/** Scope says which containers a command materialises: 'all', or those named (the others' parts are not read). */
export type Scope = 'all' | readonly string[];

/** HostSummary is what the host file alone says of a host. */
export interface HostSummary {
  name: string;
  arch: string;
  pidMax: number;
  kernel: KernelName;
  clock: number;
  tasks: number;
  containers: Array<{ name: string; initPid: number; state: string; tasks: number }>;
}

/** bytesOf views a Buffer (an encoder's output, a file read) as plain bytes. */
function bytesOf(b: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * readShared reads a pages file into shared memory: the frames are views of
 * it, and a dump hands them to its hashing thread and writes them without
 * copying them first (atomic-file.ts).
 */
function readShared(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const bytes = new Uint8Array(new SharedArrayBuffer(fstatSync(fd).size));
    for (let at = 0; at < bytes.length; ) {
      const n = readSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 30), at);
      if (n === 0) throw new Error(`${path} ended at byte ${at} of ${bytes.length}`);
      at += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/** readColumnFile reads a part's column file, each column into a buffer of its own. */
function readColumnFile(path: string): unknown {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    return decodeColumnFile({
      size,
      readInto(into, at) {
        for (let done = 0; done < into.length; ) {
          const n = readSync(fd, into, done, into.length - done, at + done);
          if (n === 0) throw new Error(`${path} ended at byte ${at + done} of ${size}`);
          done += n;
        }
      },
    });
  } finally {
    closeSync(fd);
  }
}

/** how long a command waits for another one's lock: CKPT_LOCK_TIMEOUT seconds, 60 by default */
function lockTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env['CKPT_LOCK_TIMEOUT']);
  return env['CKPT_LOCK_TIMEOUT'] !== undefined && Number.isFinite(s) && s >= 0 ? s * 1000 : 60_000;
}

/** stateRoot picks the state directory: --root, then CKPT_ROOT, then $XDG_STATE_HOME/ckpt, then ~/.local/state/ckpt. */
export function stateRoot(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  if (env['CKPT_ROOT']) return env['CKPT_ROOT'];
  return join(env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state'), 'ckpt');
}

/** checkName refuses names that are not safe as file names. */
export function checkName(kind: string, name: string): string {
  if (!isValidName(name)) throw new StoreError('CKPT_BAD_NAME', `bad ${kind} name ${JSON.stringify(name)}: ${NAME_RULE}`);
  return name;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class HostStore {
  readonly dir: string;

  constructor(readonly root: string) {
    this.dir = join(root, 'hosts');
  }

  path(name: string): string {
    return join(this.dir, `${checkName('host', name)}${HOST_SUFFIX}`);
  }

  /** list names the hosts in the store, sorted. */
  list(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((f) => f.endsWith(HOST_SUFFIX))
        .map((f) => f.slice(0, -HOST_SUFFIX.length))
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  exists(name: string): boolean {
    return this.list().includes(name);
  }

  /**
   * lock takes the host's lock file, waiting for another command to finish.
   * The lock is made whole before it appears (written under a private name,
   * then hard-linked into place), so a command killed at any moment leaves
   * either no lock or one naming its pid; a lock whose process is dead is
   * taken over, and the leftovers of dead writers are swept away.
   */
  private lock(name: string): () => void {
    mkdirSync(this.dir, { recursive: true });
    const lockPath = `${this.path(name)}.lock`;
    const mine = `${lockPath}.${process.pid}`;
    const deadline = Date.now() + lockTimeoutMs();
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      writeFileSync(mine, String(process.pid));
      try {
        linkSync(mine, lockPath);
        this.sweep(name);
        return () => rmSync(lockPath, { force: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        rmSync(mine, { force: true });
      }
      let holder = NaN;
      let ino = -1;
      try {
        ino = statSync(lockPath).ino;
        holder = Number(readFileSync(lockPath, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      if (Number.isInteger(holder) && holder > 0 && !processAlive(holder)) {
        // Only the lock we looked at: another command may have taken it over meanwhile.
        try {
          if (statSync(lockPath).ino === ino) rmSync(lockPath);
        } catch {
          // gone already
        }
        continue;
      }
      if (Date.now() > deadline) throw new StoreError('CKPT_HOST_LOCKED', `host ${name} is locked by process ${holder} (${lockPath}); waited ${lockTimeoutMs() / 1000} s (CKPT_LOCK_TIMEOUT)`);
      sleep(delay);
    }
  }

  /** sweep removes what killed commands left behind for this host: half-written files and lock attempts. */
  private sweep(name: string): void {
    sweepTemporaries(this.path(name));
    const prefix = `${name}${HOST_SUFFIX}.`;
    for (const f of readdirSync(this.dir)) {
      if (!f.startsWith(prefix)) continue;
      const m = /^lock\.(\d+)$/.exec(f.slice(prefix.length));
      if (m && !processAlive(Number(m[1]))) rmSync(join(this.dir, f), { force: true });
    }
  }

  /** partsDir holds a host's part files: ID.GEN.part (the record) and ID.GEN.pages (its page frames, back to back). */
  partsDir(name: string): string {
    return join(this.dir, `${checkName('host', name)}${PARTS_SUFFIX}`);
  }

  /** readRecord reads a host's small file: its core and an entry per part (no part is read). */
  private readRecord(name: string): HostRecord {
    const file = this.path(name);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('CKPT_HOST_MISSING', `no host named ${name} (looked for ${file}); create it with: ckpt host create ${name} --arch x86_64`);
      throw e;
    }
    let record: HostRecord;
    try {
      record = decode(bytes) as HostRecord;
      if (!record || typeof record !== 'object' || record.name !== name) throw new Error('not a ckpt host file');
    } catch (e) {
      throw this.corrupt(file, e);
    }
    if (record.format === LEGACY_FORMAT) return this.migrate(name, record as unknown as LegacyRecord);
    if (!isHostFormat(record.format)) throw this.corrupt(file, new Error(`host file format ${record.format} is not one this ckpt reads (${LEGACY_FORMAT} to ${HOST_FORMAT})`));
    return record;
  }

  private corrupt(file: string, e: unknown): StoreError {
    const why = e instanceof Error ? e.message : String(e);
    return new StoreError('CKPT_HOST_CORRUPT', `host file ${file} is unreadable (${why}); it was left as it is`);
  }

  /** migrate rewrites a host file of the single-file layout (format 1) in this layout, in place, and returns its new record. */
  private migrate(name: string, legacy: LegacyRecord): HostRecord {
    let m: Machine;
    try {
      m = decodeLegacyMachine(legacy);
    } catch (e) {
      throw this.corrupt(this.path(name), e);
    }
    this.save(m);
    return decode(readFileSync(this.path(name))) as HostRecord;
  }

  /**
   * load builds a host with the parts holding the containers `only` names
   * (all of them when it is 'all'). Parts with a process stopped in the host
   * init's process group are always loaded: an exit in any container may
   * find that group orphaned and signal every member of it
   * (kill_orphaned_pgrp), in whichever container it is.
   */
  private load(name: string, only: Scope): Machine {
    const record = this.readRecord(name);
    const dir = this.partsDir(name);
    this.sweepParts(name, record);
    const loaded = new Map<number, LoadedPart>();
    for (const e of record.parts) {
      const wanted = only === 'all' || e.stoppedInCore || e.containers.some(([c]) => only.includes(c));
      if (!wanted) continue;
      const base = join(dir, `${e.id}.${e.gen}`);
      try {
        const path = `${base}${PART_SUFFIX}`;
        // a part of format 1 is one CBOR record; later ones are column files
        const record = (e.format ?? 1) === 1 ? decode(readFileSync(path)) : readColumnFile(path);
        loaded.set(e.id, { record: record as PartRecord, pages: readShared(`${base}${PAGES_SUFFIX}`) });
      } catch (err) {
        throw this.corrupt(`${base}${PART_SUFFIX}`, err);
      }
    }
    try {
      return decodeHost(record, loaded, true);
    } catch (e) {
      throw this.corrupt(this.path(name), e);
    }
  }

  /**
   * save writes the loaded parts of `m` under a new generation, then the
   * host file that names them: its rename is the commit, so a crash leaves
   * the old host file and the old parts it names, or the new ones. Files no
   * host file names any more are removed afterwards (or by the next command).
   */
  private save(m: Machine): void {
    const { host, parts } = encodeHost(m, generationOf(m) + 1);
    const dir = this.partsDir(m.name);
    mkdirSync(dir, { recursive: true });
    // A new generation's files are named by no host file until the one below: written in place (a torn one is never
    // read, and swept as unnamed), each fsynced, their names made durable by one fsync of their directory.
    for (const { entry, part } of parts) {
      const base = join(dir, `${entry.id}.${entry.gen}`);
      writeFileDurably(`${base}${PAGES_SUFFIX}`, part.pages);
      writeFileDurably(`${base}${PART_SUFFIX}`, encodeColumnFile(part.record));
    }
    if (parts.length > 0) syncDirectory(dir);
    writeFileAtomically(this.path(m.name), bytesOf(encode(host)));
    this.sweepParts(m.name, host);
  }

  /** sweepParts removes the part files `record` does not name: those of replaced generations, removed containers and killed writers. */
  private sweepParts(name: string, record: HostRecord | null): void {
    const dir = this.partsDir(name);
    const keep = new Set((record?.parts ?? []).flatMap((e) => [`${e.id}.${e.gen}${PART_SUFFIX}`, `${e.id}.${e.gen}${PAGES_SUFFIX}`]));
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const f of names) if (!keep.has(f)) rmSync(join(dir, f), { force: true });
  }

  /** summary describes a host from its small file alone: no container's state is read. */
  summary(name: string): HostSummary {
    return this.locked(name, () => {
      const r = this.readRecord(name);
      return {
        name: r.name,
        arch: r.arch,
        pidMax: r.pidMax,
        kernel: r.kernel,
        clock: r.clock,
        tasks: r.core.tasks.count + r.parts.reduce((n, e) => n + e.tasks, 0),
        containers: r.parts.flatMap((e) => e.containers.map(([c, initPid, state, tasks]) => ({ name: c, initPid, state, tasks }))),
      };
    });
  }

  /** locked runs `fn` holding the host's lock. */
  private locked<T>(name: string, fn: () => T): T {
    const unlock = this.lock(name);
    try {
      return fn();
    } finally {
      unlock();
    }
  }

  /** create makes a new host; an existing one is an error. */
  create(name: string, arch: string, pidMax?: number, kernel?: KernelName): Machine {
    return this.add(Machine.create(name, arch, pidMax, kernel));
  }

  /** add stores a machine built elsewhere under its name; an existing host of that name is an error. */
  add(m: Machine): Machine {
    return this.locked(m.name, () => {
      if (this.exists(m.name)) throw new StoreError('CKPT_HOST_EXISTS', `host ${m.name} already exists (${this.path(m.name)})`);
      // what a host of this name left when it was removed, or a creation killed before its host file
      this.sweepParts(m.name, null);
      this.save(m);
      return m;
    });
  }

  /** read loads a host (the containers `only` names, or all) without changing it. */
  read(name: string, only: Scope = 'all'): Machine {
    return this.locked(name, () => this.load(name, only));
  }

  /**
   * update loads a host (the containers `only` names, or all) under its
   * lock, lets `change` act on it and saves the result; if `change` throws,
   * nothing is written. `orCreate` makes the host (with that arch) when it
   * does not exist yet.
   */
  update<T>(name: string, change: (m: Machine) => T, orCreate?: string, only: Scope = 'all'): T {
    return this.locked(name, () => {
      const m = this.loadOrCreate(name, orCreate, only);
      const out = change(m);
      this.save(m);
      return out;
    });
  }

  /**
   * updateAsync is update for a change that waits on I/O (a dump writing its
   * image); the lock is held until it settles. With `save` false the change
   * promises to leave the host as it was, and nothing is written.
   */
  async updateAsync<T>(name: string, change: (m: Machine) => Promise<T>, only: Scope = 'all', save = true): Promise<T> {
    const unlock = this.lock(name);
    try {
      const m = this.load(name, only);
      const out = await change(m);
      if (save) this.save(m);
      return out;
    } finally {
      unlock();
    }
  }

  private loadOrCreate(name: string, orCreate: string | undefined, only: Scope): Machine {
    if (orCreate && !this.exists(name)) {
      this.sweepParts(name, null);
      return Machine.create(name, orCreate);
    }
    return this.load(name, only);
  }

  /** replace loads a host under its lock and saves the machine `change` returns in its place (for changes made on a copy). */
  replace<T>(name: string, change: (m: Machine) => { machine: Machine; out: T }, orCreate?: string, only: Scope = 'all'): T {
    return this.locked(name, () => {
      const m = this.loadOrCreate(name, orCreate, only);
      const { machine, out } = change(m);
      inheritLedger(m, machine);
      this.save(machine);
      return out;
    });
  }

  /** remove deletes a host: its host file first (the commit), then its parts. */
  remove(name: string): void {
    this.locked(name, () => {
      if (!this.exists(name)) throw new StoreError('CKPT_HOST_MISSING', `no host named ${name}`);
      rmSync(this.path(name));
      rmSync(this.partsDir(name), { recursive: true, force: true });
    });
  }
}
