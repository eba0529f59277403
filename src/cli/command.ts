/**
 * The shape every subcommand has: its options, its --help text and `run`, which returns the exit
 * code (0 fine, 1 damage found or an operation failed, 2 usage). Shared helpers for the context.
 */
import type { OptionSpecs, ParsedArgs } from './args';
import type { Output } from './output';

export interface Context {
  out: Output;
  /** Writes a line to stderr (notes, prompts; never data). */
  err: (text: string) => void;
  /** stdin/stdout/stderr are terminals: prompts and progress bars allowed. */
  interactive: boolean;
}

export interface Command {
  name: string;
  /** Full `wal NAME --help` text. */
  help: string;
  options: OptionSpecs;
  run(args: ParsedArgs, ctx: Context): Promise<number>;
}

/** Exit codes, as documented in docs/cli.md. */
export const EXIT = { OK: 0, PROBLEM: 1, USAGE: 2 } as const;
