/**
 * A registry on 127.0.0.1 for tests: Debian's docker-registry (distribution
 * 2.8) on a free port, storing in a private temporary directory, stopped
 * and waited for afterwards. skopeo must be there too to talk to it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

/** missingTools says which of skopeo and docker-registry cannot be run, or null when both can. */
export async function missingTools(): Promise<string | null> {
  const missing: string[] = [];
  for (const [tool, args] of [['skopeo', ['--version']], ['docker-registry', ['--version']]] as const) {
    const r = await execa(tool, [...args], { reject: false, stdin: 'ignore' });
    if (r.failed) missing.push(tool);
  }
  return missing.length === 0 ? null : `${missing.join(' and ')} not installed (apt-get install -y skopeo docker-registry)`;
}

/** freePort asks the kernel for a port nobody listens on. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Registry {
  /** HOST:PORT */
  host: string;
  stop(): Promise<void>;
}

/** startRegistry starts docker-registry on 127.0.0.1 and waits until it answers /v2/. */
export async function startRegistry(): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-registry-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(config, ['version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'storage')}`, 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n'));
  const child = execa('docker-registry', ['serve', config], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', cleanup: true });
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await child;
    rmSync(dir, { recursive: true, force: true });
  };
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`http://${host}/v2/`);
      if (r.status === 200) return { host, stop };
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not start on ${host}: ${String((await child).stderr).slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
