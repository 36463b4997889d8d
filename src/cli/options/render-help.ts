/**
 * renderHelp is `ckpt VERB --help` (and `ckpt host create --help`), made
 * from the command's options as data without loading yargs or the verb's
 * code: its usage and description, its positionals, its own options, the
 * options every command takes, its sub-commands and its examples, in
 * yargs' layout (annotations such as [string] [default: ...] to the right).
 */
import { GLOBAL, usageOf, type CommandSpec, type OptionSpec } from './spec.js';

/** a row of a section: the left column (a flag, a positional, an example) and the text beside it */
type Row = readonly [string, string];

/** wrapTokens joins tokens with spaces into lines of at most `width` characters (a longer token stands alone). */
function wrapTokens(tokens: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const token of tokens) {
    if (line && line.length + 1 + token.length > width) {
      lines.push(line);
      line = token;
    } else line = line ? `${line} ${token}` : token;
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

/** wrapWords breaks text into lines of at most `width` characters, at spaces. */
const wrapWords = (text: string, width: number): string[] => wrapTokens(text.split(/\s+/).filter(Boolean), width);

/** annotations says what yargs says to the right of an option: its type, whether required, its choices and default. */
function annotations(o: OptionSpec): string {
  const parts = [`[${o.type}]`];
  if (o.required) parts.push('[required]');
  if (o.choices) parts.push(`[choices: ${o.choices.map((c) => JSON.stringify(c)).join(', ')}]`);
  if (o.default !== undefined) parts.push(`[default: ${JSON.stringify(o.default)}]`);
  return parts.join(' ');
}

/** optionFlags is how an option is typed, as help lists it: `-q, --quiet`, `    --root`. */
export function optionFlags(o: OptionSpec): string {
  return o.alias ? `-${o.alias}, --${o.name}` : `    --${o.name}`;
}

/**
 * section lays rows out in two columns, the left as wide as its widest entry
 * (but never more than half the width: a longer one has its text on the
 * lines below), the text wrapped, an annotation right-aligned on the text's
 * last line when it fits there and on lines of their own when not.
 */
function section(title: string, rows: ReadonlyArray<Row | readonly [string, string, string]>, width: number, widest = Math.max(...rows.map(([l]) => l.length))): string[] {
  if (rows.length === 0) return [];
  const left = Math.min(Math.floor(width / 2), widest) + 4;
  const lines = [`${title}:`];
  for (const [l, text, note = ''] of rows) {
    const body = wrapWords(text, width - left);
    const first = `  ${l}`;
    const out = first.length + 2 > left ? [first, ...body.map((b) => ' '.repeat(left) + b)] : body.map((b, i) => (i === 0 ? first.padEnd(left) : ' '.repeat(left)) + b);
    if (note) {
      const last = out[out.length - 1]!;
      if (last.length + 1 + note.length <= width) out[out.length - 1] = last + note.padStart(width - last.length);
      // else under the text, right-aligned, broken between annotations if wider than the text's column
      else out.push(...wrapTokens(note.split(/(?<=\]) (?=\[)/), width - left).map((n) => n.padStart(width)));
    }
    lines.push(...out.map((x) => x.trimEnd()));
  }
  return [...lines, ''];
}

/** renderHelp renders the help of the command at `path` (['host', 'create']) whose options are `spec`. */
export function renderHelp(path: readonly string[], spec: CommandSpec, width = 100): string {
  const prefix = ['ckpt', ...path.slice(0, -1)].join(' ');
  const lines = [`${prefix} ${usageOf(spec)}`, '', ...wrapWords(spec.describe, width), ''];
  lines.push(...section('Commands', (spec.subcommands ?? []).map((s) => [`ckpt ${path.join(' ')} ${usageOf(s)}`, s.describe] as const), width));
  // a command with sub-commands has them as its positional: Commands lists them
  const positionals = spec.subcommands ? [] : spec.positionals.map((p) => [p.name, p.describe, p.required ? '[string] [required]' : '[string]'] as const);
  const own = spec.options.map((o) => [optionFlags(o), o.describe, annotations(o)] as const);
  const common = [...spec.shared, ...GLOBAL].map((o) => [optionFlags(o), o.describe, annotations(o)] as const);
  // one left column for the three, so that their texts line up
  const widest = Math.max(...[...positionals, ...own, ...common].map(([l]) => l.length));
  lines.push(...section('Positionals', positionals, width, widest));
  lines.push(...section('Options', own, width, widest));
  lines.push(...section('Common options', common, width, widest));
  lines.push(...section('Examples', spec.examples, width));
  return lines.join('\n').trimEnd();
}
