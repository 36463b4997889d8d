/**
 * A SHA-256 fed in pieces, on this thread or on a worker thread. An image's
 * pages.bin is most of its bytes, and SHA-256 of it takes as long as
 * preparing and writing them: hashed on a worker, on another core, it is
 * off the writer's path. Pieces given to the worker must lie in shared
 * memory (a SharedArrayBuffer) and stay unchanged until their update settles.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export interface Sha256Stream {
  /** update hashes `bytes` next; the bytes must not change until the returned promise settles */
  update(bytes: Uint8Array): Promise<void>;
  /** digest is the hex SHA-256 of everything given, in order; the stream is finished */
  digest(): Promise<string>;
  /** close lets go of any thread, digest or not */
  close(): Promise<void>;
}

/** Below this many bytes a worker costs more to start (about 20 ms) than it saves. */
export const WORKER_THRESHOLD = 32 * 1024 * 1024;

/** sha256Stream hashes `expectedBytes` bytes: on a worker when there are enough of them to pay for one, unless the caller's thread is `idle` while they are written. */
export function sha256Stream(expectedBytes: number, idle = false): Sha256Stream {
  return expectedBytes >= WORKER_THRESHOLD && !idle ? new WorkerSha256() : new InlineSha256();
}

/** InlineSha256 hashes on the calling thread, at once. */
export class InlineSha256 implements Sha256Stream {
  private readonly hash = createHash('sha256');

  update(bytes: Uint8Array): Promise<void> {
    this.hash.update(bytes);
    return Promise.resolve();
  }

  digest(): Promise<string> {
    return Promise.resolve(this.hash.digest('hex'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The worker: one hash, updated from views of shared memory in the order they are posted. CommonJS, as eval'd worker code is. */
const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
parentPort.on('message', (m) => {
  if (m.digest) parentPort.postMessage({ hex: hash.digest('hex') });
  else {
    hash.update(new Uint8Array(m.buffer, m.offset, m.length));
    parentPort.postMessage({});
  }
});
`;

/** WorkerSha256 hashes on a worker thread; replies come back in the order the requests went. */
export class WorkerSha256 implements Sha256Stream {
  private readonly worker = new Worker(WORKER_CODE, { eval: true });
  private readonly waiting: Array<{ resolve: (hex: string | undefined) => void; reject: (e: unknown) => void }> = [];
  private failure: unknown = null;

  constructor() {
    this.worker.on('message', (m: { hex?: string }) => this.waiting.shift()?.resolve(m.hex));
    const fail = (e: unknown): void => {
      this.failure ??= e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', () => fail(new Error('the hashing thread ended')));
  }

  update(bytes: Uint8Array): Promise<void> {
    if (!(bytes.buffer instanceof SharedArrayBuffer)) return Promise.reject(new TypeError('WorkerSha256 hashes shared memory only'));
    return this.request({ buffer: bytes.buffer, offset: bytes.byteOffset, length: bytes.length }).then(() => undefined);
  }

  async digest(): Promise<string> {
    const hex = await this.request({ digest: true });
    await this.close();
    return hex!;
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  private request(message: object): Promise<string | undefined> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(message);
    });
  }
}
