/** The layout of a verb's help: within the width asked for, every option's text whole and in order. */
import { describe, expect, it } from 'vitest';
import { SPECS } from '../../../src/cli/options/all.js';
import { renderHelp } from '../../../src/cli/options/render-help.js';
import { GLOBAL, optionsOf, type CommandSpec } from '../../../src/cli/options/spec.js';

const ALL: Array<[string[], CommandSpec]> = Object.values(SPECS).flatMap((s) => [[[s.name], s] as [string[], CommandSpec], ...(s.subcommands ?? []).map((c) => [[s.name, c.name], c] as [string[], CommandSpec])]);

describe('renderHelp', () => {
  for (const width of [80, 100, 120]) {
    it(`keeps every line of every help within ${width} columns`, () => {
      for (const [path, spec] of ALL) {
        const long = renderHelp(path, spec, width).split('\n').filter((l) => l.length > width);
        expect([path.join(' '), long]).toEqual([path.join(' '), []]);
      }
    });
  }

  it('at any width, shows each option once, with its whole description in order and its annotations', () => {
    for (const width of [50, 80, 100, 160]) {
      for (const [path, spec] of ALL) {
        const help = renderHelp(path, spec, width);
        const words = help.split(/\s+/).join(' ');
        for (const o of [...optionsOf(spec), ...GLOBAL]) {
          expect(help.match(new RegExp(`--${o.name}\\b(?!-)`, 'g'))?.length ?? 0, `${path.join(' ')} --${o.name} at ${width}`).toBeGreaterThanOrEqual(1);
          expect(words).toContain(o.describe.split(/\s+/).join(' '));
          if (o.default !== undefined) expect(words).toContain(`[default: ${JSON.stringify(o.default)}]`);
        }
        for (const p of spec.subcommands ? [] : spec.positionals) expect(words).toContain(p.describe.split(/\s+/).join(' '));
      }
    }
  });

  it('starts with the command as typed and its description, and lists a parent\'s sub-commands', () => {
    const host = renderHelp(['host'], SPECS.host!);
    expect(host.split('\n').slice(0, 3)).toEqual(['ckpt host <action>', '', SPECS.host!.describe]);
    for (const s of SPECS.host!.subcommands!) expect(host).toContain(`ckpt host ${s.name}`);
    expect(renderHelp(['host', 'create'], SPECS.host!.subcommands![0]!).split('\n')[0]).toBe('ckpt host create <name>');
    expect(renderHelp(['ps'], SPECS.ps!).split('\n')[0]).toBe('ckpt ps [ctr]');
  });
});
