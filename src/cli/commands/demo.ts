/** ckpt demo: the same nested pid tree on four architectures, through eclone and clone3. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { ArchName } from '../../index.js';
import { buildWithClone3, buildWithEclone, collide } from '../demo-scenario.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';

const ARCHES: ArchName[] = ['i386', 'x86_64', 's390x', 'ppc64'];

interface DemoArgs {
  json: boolean;
}

export function demoCommand(ctx: CliContext): CommandModule<object, DemoArgs> {
  return {
    command: 'demo',
    describe: 'Build one nested container tree with identical pids on i386, x86_64, s390x and ppc64',
    builder: (y: Argv) =>
      y
        .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' })
        .example('$0 demo', 'show the pid table side by side')
        .example('$0 demo --json | jq .eclone', 'the same, for a script') as unknown as Argv<DemoArgs>,
    handler: (argv: ArgumentsCamelCase<DemoArgs>) => {
      const eclone = Object.fromEntries(ARCHES.map((a) => [a, buildWithEclone(a)]));
      const clone3 = buildWithClone3('x86_64');
      const collision = collide('x86_64');
      const identical = ARCHES.every((a) => JSON.stringify(eclone[a]) === JSON.stringify(clone3));
      if (argv.json) {
        ctx.out(JSON.stringify({ eclone, clone3, collision, identical }, null, 2));
      } else {
        ctx.out('One container tree, three pid-namespace levels, built with eclone() through each ABI\'s registers and memory.');
        ctx.out('Each cell is the task\'s pid at every level, host level first (the NSpid line of /proc/PID/status).\n');
        const roles = clone3.map((t) => t.role);
        const width = 16;
        ctx.out(['task'.padEnd(16), ...ARCHES.map((a) => a.padEnd(width)), 'clone3 (x86_64)'].join(''));
        roles.forEach((role, i) => {
          const cells = ARCHES.map((a) => eclone[a]![i]!.nspids.join('/').padEnd(width));
          ctx.out([role.padEnd(16), ...cells, clone3[i]!.nspids.join('/')].join(''));
        });
        ctx.out(`\n${identical ? 'Identical pids at every level on every architecture and through both interfaces.' : 'MISMATCH between architectures or interfaces.'}`);
        ctx.out(`\nA collision (host pid 2001 already taken): eclone reports ${collision.eclone}, clone3 reports ${collision.clone3}; host ${collision.unchanged ? 'unchanged' : 'CHANGED'}.`);
        ctx.out('\nCheckpoint and restore of running containers (ckpt dump / ckpt restore) build on this; see the README.');
      }
      ctx.setExitCode(identical && collision.unchanged ? EXIT.OK : EXIT.FAILURE);
    },
  };
}
