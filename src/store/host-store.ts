/**
 * HostStore keeps simulated hosts in a state directory, one CBOR file per
 * host. Every change happens under the host's lock file and is written
 * atomically (temporary file, fsync, rename, fsync of the directory), so
 * concurrent commands never lose an update and a crash never leaves a torn
 * file. An unreadable host file is an error naming it, never replaced.
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from 'cbor-x';
import { Machine } from '../container/machine.js';
import { isValidName, NAME_RULE } from '../container/names.js';
import type { KernelName } from '../kernel/personality.js';
import { decodeMachine, encodeMachine, MachineDecodeError, type MachineRecord } from './machine-codec.js';
import { StoreError } from './store-error.js';
import { sweepTemporaries, writeFileAtomically } from '../disk/atomic-file.js';
import { processAlive } from '../disk/process-alive.js';

const HOST_SUFFIX = '.host';
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

  private load(name: string): Machine {
    const file = this.path(name);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('CKPT_HOST_MISSING', `no host named ${name} (looked for ${file}); create it with: ckpt host create ${name} --arch x86_64`);
      throw e;
    }
    let record: MachineRecord;
    try {
      record = decode(bytes) as MachineRecord;
      if (!record || typeof record !== 'object' || record.name !== name) throw new Error('not a ckpt host file');
      return decodeMachine(record);
    } catch (e) {
      const why = e instanceof MachineDecodeError || e instanceof Error ? e.message : String(e);
      throw new StoreError('CKPT_HOST_CORRUPT', `host file ${file} is unreadable (${why}); it was left as it is`);
    }
  }

  private save(m: Machine): void {
    const encoded = encode(encodeMachine(m));
    writeFileAtomically(this.path(m.name), new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength));
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
      this.save(m);
      return m;
    });
  }

  /** read loads a host without changing it. */
  read(name: string): Machine {
    return this.locked(name, () => this.load(name));
  }

  /**
   * update loads a host under its lock, lets `change` act on it and saves
   * the result; if `change` throws, nothing is written. `orCreate` makes the
   * host (with that arch) when it does not exist yet.
   */
  update<T>(name: string, change: (m: Machine) => T, orCreate?: string): T {
    return this.locked(name, () => {
      const m = this.loadOrCreate(name, orCreate);
      const out = change(m);
      this.save(m);
      return out;
    });
  }

  /** updateAsync is update for a change that waits on I/O (a dump writing its image); the lock is held until it settles. */
  async updateAsync<T>(name: string, change: (m: Machine) => Promise<T>): Promise<T> {
    const unlock = this.lock(name);
    try {
      const m = this.load(name);
      const out = await change(m);
      this.save(m);
      return out;
    } finally {
      unlock();
    }
  }

  private loadOrCreate(name: string, orCreate: string | undefined): Machine {
    return orCreate && !this.exists(name) ? Machine.create(name, orCreate) : this.load(name);
  }

  /** replace loads a host under its lock and saves the machine `change` returns in its place (for changes made on a copy). */
  replace<T>(name: string, change: (m: Machine) => { machine: Machine; out: T }, orCreate?: string): T {
    return this.locked(name, () => {
      const m = this.loadOrCreate(name, orCreate);
      const { machine, out } = change(m);
      this.save(machine);
      return out;
    });
  }

  remove(name: string): void {
    this.locked(name, () => {
      if (!this.exists(name)) throw new StoreError('CKPT_HOST_MISSING', `no host named ${name}`);
      rmSync(this.path(name));
    });
  }
}
