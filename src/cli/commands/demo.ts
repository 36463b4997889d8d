/** ckpt demo: checkpoint a nested container on an i386 host and restore it on an x86_64 host. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { runDemo } from '../demo-scenario.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../error-codes.js';
import { countOf, declared, verb } from '../options.js';
import { DEMO } from '../options/demo.js';
import { refuse } from '../refused.js';
import { archByName, archNames } from '../../arch/registry.js';
import { UsageError } from '../usage-error.js';

/** sampleWorkload finds images/workloads/nested.wl above this module (it runs from src/ in tests and dist/src/ when built). */
function sampleWorkload(): { path: string; text: string } {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const path = join(dir, 'images', 'workloads', 'nested.wl');
    if (existsSync(path)) return { path: 'images/workloads/nested.wl', text: readFileSync(path, 'utf8') };
  }
  throw new Error('images/workloads/nested.wl is missing from the installation');
}

/** archOf checks an architecture name while parsing. */
function archOf(option: string): (name: unknown) => string {
  return (name) => {
    const arch = archByName(String(name));
    if (!arch) refuse(new UsageError(`--${option} ${JSON.stringify(String(name))} is not an architecture: expected one of ${archNames().join(', ')} (or x86, powerpc)`));
    return arch.name;
  };
}

export function demoCommand(ctx: CliContext): CommandModule {
  return verb<{ json: boolean; from: string; to: string; steps: number; real: boolean }>({
    ...declared(DEMO, { from: archOf('from'), to: archOf('to'), steps: countOf('steps') }),
    handler: async (a) => {
      if (a.real) return realDemo(ctx, a.json);
      const d = runDemo(sampleWorkload(), a.from, a.to, a.steps);
      ctx.setExitCode(d.identical && d.collision.unchanged ? EXIT.OK : EXIT.FAILURE);
      if (a.json) return ctx.out(JSON.stringify(d, null, 2));
      ctx.out(`1. Container web runs images/workloads/nested.wl on an ${d.from} host: three pid-namespace levels.`);
      ctx.out(`2. After ${d.stepsBefore} steps it is checkpointed, mid-work, and restored on an ${d.to} host.`);
      ctx.out('   Every task is recreated with eclone() naming its pid at each container level; it runs on as a compat task.\n');
      ctx.out(`${'task'.padEnd(8)}${`pids on ${d.from} (host first)`.padEnd(28)}${`pids on ${d.to}`.padEnd(20)}abi`);
      for (const r of d.rows) ctx.out(`${r.comm.padEnd(8)}${r.before.join('/').padEnd(28)}${r.after.join('/').padEnd(20)}${r.abiAfter}`);
      ctx.out(`\n${d.identical ? 'Identical pids at every level of the container.' : 'MISMATCH: some pid changed.'} (The host level is the target kernel's choice; --host-pids would keep it too.)`);
      ctx.out('\n3. The console before the checkpoint:');
      for (const l of d.consoleBefore.trimEnd().split('\n')) ctx.out(`   ${l}`);
      ctx.out(`\n4. And what the restored container printed on ${d.to}, continuing where it stopped:`);
      for (const l of d.consoleAfter.trimEnd().split('\n')) ctx.out(`   ${l}`);
      ctx.out(`\nA collision (host pid 2001 taken): eclone reports ${d.collision.eclone}, clone3 reports ${d.collision.clone3}; host ${d.collision.unchanged ? 'unchanged' : 'CHANGED'}.`);
    },
  });
}

/** realDemo: model host → real processes → model host (demo-real.ts), pids side by side with /proc's NSpid lines. */
async function realDemo(ctx: CliContext, json: boolean): Promise<void> {
  const { runRealDemo } = await import('../demo-real.js');
  const d = await runRealDemo(sampleWorkload());
  ctx.setExitCode(d.identical && d.sameConsole ? EXIT.OK : EXIT.FAILURE);
  if (json) return ctx.out(JSON.stringify(d, null, 2));
  ctx.out('1. Container web runs images/workloads/nested.wl on a model x86_64 host: three pid-namespace levels.');
  ctx.out(`2. After ${d.stepsBefore} steps it is checkpointed and restored on this machine as real processes (clone3 with set_tid at every level),`);
  ctx.out(`   runs ${d.stepsOnLinux} steps there, is checkpointed from the real processes and restored on a model host again.\n`);
  ctx.out(`${'task'.padEnd(8)}${'model host'.padEnd(14)}${'real (machine first)'.padEnd(22)}${'/proc NSpid'.padEnd(16)}back on a model host`);
  for (const r of d.rows) ctx.out(`${r.comm.padEnd(8)}${r.model.join('/').padEnd(14)}${r.real.join('/').padEnd(22)}${r.procNSpid.padEnd(16)}${r.back.join('/') || '(ended on the machine)'}`);
  ctx.out(`\n${d.identical ? 'Identical pids at every level of the container, on the model and in the kernel.' : 'MISMATCH: some pid changed.'} (The host level is each host's own choice.)`);
  ctx.out('\n3. Its console, model → real → model:');
  for (const l of d.console.trimEnd().split('\n')) ctx.out(`   ${l}`);
  ctx.out('');
  for (const s of d.stages) ctx.out(`   ${s.sameConsole ? 'same' : 'DIFFERENT'} console after: ${s.stage}`);
  ctx.out(`\n${d.sameConsole ? 'At every stage, the same console as a model host that ran it straight through.' : 'MISMATCH: the console differs from a model host that ran it straight through.'}`);
}
