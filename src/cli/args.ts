/**
 * Command-line parsing for `wal`: `--name value`, `--name=value`, boolean `--flag`, short aliases
 * (`-y`, `-h`, `-j`) and positionals. Anything unknown or malformed is a UsageError (exit 2), so a
 * typo never silently changes what a command does to a data directory.
 */

/** A mistake in how the command was invoked: printed with the usage hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** How one option is read. */
export interface OptionSpec {
  type: 'boolean' | 'string' | 'integer';
  /** One-letter alias, without the dash. */
  short?: string;
  /** Smallest accepted value of an integer option. */
  min?: number;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** Parsed options: booleans are true/undefined, integers are numbers, strings stay strings. */
export type ParsedOptions = Record<string, string | number | boolean | undefined>;

export interface ParsedArgs {
  options: ParsedOptions;
  positionals: string[];
}

/** Options every subcommand accepts. */
export const COMMON_OPTIONS: OptionSpecs = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean', short: 'j' },
  format: { type: 'string' },
  'no-color': { type: 'boolean' },
};

/** Parses `argv` (after the subcommand) against `specs`; throws UsageError on anything unknown. */
export function parseArgs(argv: readonly string[], specs: OptionSpecs): ParsedArgs {
  const options: ParsedOptions = {};
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short) byShort.set(spec.short, name);

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
      if (!(name in specs)) throw new UsageError(`unknown option --${name}`);
    } else if (arg.startsWith('-') && arg.length === 2 && arg !== '-') {
      name = byShort.get(arg.slice(1));
      if (name === undefined) throw new UsageError(`unknown option ${arg}`);
    } else {
      positionals.push(arg);
      continue;
    }
    const spec = specs[name]!;
    if (spec.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`option --${name} takes no value`);
      options[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`option --${name} needs a value`);
      value = argv[++i]!;
    }
    options[name] = spec.type === 'integer' ? parseInteger(name, value, spec.min ?? 0) : value;
  }
  return { options, positionals };
}

/** A decimal integer (underscores and k/m suffixes allowed: 10_000, 100k, 4m) at least `min`. */
export function parseInteger(name: string, text: string, min = 0): number {
  const m = /^(\d[\d_]*)([kKmM]?)$/.exec(text.trim());
  if (!m) throw new UsageError(`option --${name} expects an integer, got '${text}'`);
  const base = Number(m[1]!.replace(/_/g, ''));
  const mult = m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1000 : 1_000_000;
  const value = base * mult;
  if (!Number.isSafeInteger(value) || value < min) throw new UsageError(`option --${name} must be an integer >= ${min}, got '${text}'`);
  return value;
}

/** A raft index for --from/--to (uint64, so a bigint). */
export function parseIndex(name: string, text: string): bigint {
  if (!/^\d+$/.test(text)) throw new UsageError(`option --${name} expects a non-negative integer, got '${text}'`);
  const v = BigInt(text);
  if (v >= 1n << 64n) throw new UsageError(`option --${name} is larger than a uint64`);
  return v;
}

/** `--snapshot INDEX:TERM`, as etcd's OpenForRead takes it. */
export function parseSnapshot(text: string): { index: bigint; term: bigint } {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`option --snapshot expects INDEX:TERM (e.g. 1200:3), got '${text}'`);
  return { index: parseIndex('snapshot', m[1]!), term: parseIndex('snapshot', m[2]!) };
}

/** Exactly one PATH positional, or a UsageError naming the command. */
export function onePath(command: string, positionals: readonly string[]): string {
  if (positionals.length === 0) throw new UsageError(`wal ${command}: missing PATH`);
  if (positionals.length > 1) throw new UsageError(`wal ${command}: expected one PATH, got ${positionals.length}`);
  return positionals[0]!;
}
