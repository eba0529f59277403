#!/usr/bin/env node
/**
 * `wal`: inspect, check, repair and benchmark write-ahead logs (etcd WAL directories and LevelDB
 * logs). Dispatches to one file per subcommand; turns every failure into a one-line message with
 * its WalError code and location (no stack trace) and an exit code: 0 ok, 1 problem, 2 usage.
 */
import { UsageError, parseArgs } from './args';
import type { Command, Context } from './command';
import { EXIT } from './command';
import { Output, colourEnabled } from './output';
import { WalError } from '../errors';

/** The subcommands, loaded only when run: `wal --help` and usage errors stay fast. */
const COMMANDS: readonly { name: string; summary: string; load: () => Command }[] = [
  {
    name: 'dump',
    summary: 'print every record (segment, offset, type, index/term, size, CRC), decoded',
    load: () => (require('./commands/dump') as typeof import('./commands/dump')).dump,
  },
  {
    name: 'verify',
    summary: 'check every record and CRC without modifying anything; exit 0 healthy, 1 corrupt',
    load: () => (require('./commands/verify') as typeof import('./commands/verify')).verify,
  },
  {
    name: 'repair',
    summary: "cut a torn tail (etcd's Repair; LevelDB: after the last complete record), keeping a backup",
    load: () => (require('./commands/repair') as typeof import('./commands/repair')).repair,
  },
  {
    name: 'stat',
    summary: 'segments, sizes, index ranges, snapshots, HardState, preallocated vs used bytes',
    load: () => (require('./commands/stat') as typeof import('./commands/stat')).stat,
  },
  {
    name: 'consumer',
    summary: "a Log's durable consumers: list, reset to an index, delete",
    load: () => (require('./commands/consumer') as typeof import('./commands/consumer')).consumer,
  },
  {
    name: 'forward',
    summary: 'send a Log to a NATS JetStream stream, exactly once (sidecar; needs the nats package)',
    load: () => (require('./commands/forward') as typeof import('./commands/forward')).forwardCommand,
  },
  {
    name: 'bench',
    summary: 'durable ingestion + recovery benchmark with Log, native vs fallback',
    load: () => (require('./commands/bench') as typeof import('./commands/bench')).bench,
  },
];

const MAIN_HELP = `Usage: wal <command> [PATH] [options]

Inspect, check, repair and benchmark write-ahead logs: etcd WAL directories (*.wal segments)
and LevelDB logs (NNNNNN.log). The format is detected from PATH; --format etcd|leveldb overrides.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(8)} ${c.summary}`).join('\n')}

Run 'wal <command> --help' for a command's options. Exit status: 0 ok, 1 damage found or the
operation failed, 2 usage error. Colours follow NO_COLOR; --json prints one object per line.`;

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const stderr = (text: string): void => {
    process.stderr.write(`${text}\n`);
  };
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    process.stdout.write(`${topic ? topic.load().help : MAIN_HELP}\n`);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${readVersion()}\n`);
    return EXIT.OK;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    stderr(`wal: unknown command '${name}'. Commands: ${COMMANDS.map((c) => c.name).join(', ')} (wal --help)`);
    return EXIT.USAGE;
  }
  const command = entry.load();
  let out: Output | undefined;
  try {
    const args = parseArgs(rest, command.options);
    if (args.options['help'] === true) {
      process.stdout.write(`${command.help}\n`);
      return EXIT.OK;
    }
    const json = args.options['json'] === true;
    out = new Output(json, !json && colourEnabled(process.stdout, args.options['no-color'] === true));
    const ctx: Context = {
      out,
      err: stderr,
      interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
    };
    const code = await command.run(args, ctx);
    out.flush();
    return code;
  } catch (err) {
    out?.flush();
    if (err instanceof UsageError) {
      stderr(`wal ${command.name}: ${err.message}\nRun 'wal ${command.name} --help' for usage.`);
      return EXIT.USAGE;
    }
    if (err instanceof WalError) {
      const where = err.file !== undefined ? ` [${err.file}${err.offset !== undefined ? ` offset ${err.offset}` : ''}]` : '';
      stderr(`wal ${command.name}: ${err.code}: ${err.message}${err.message.includes(err.file ?? '\0') ? '' : where}`);
      if (out?.json)
        process.stdout.write(
          `${JSON.stringify({ kind: 'error', code: err.code, message: err.message, file: err.file ?? null, offset: err.offset ?? null })}\n`,
        );
      return EXIT.PROBLEM;
    }
    const e = err as NodeJS.ErrnoException;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') {
      // An operating-system error (EACCES, ENOSPC...): the code and the path say it all.
      stderr(`wal ${command.name}: ${e.code}: ${e.message}`);
      return EXIT.PROBLEM;
    }
    stderr(`wal ${command.name}: internal error: ${e?.stack ?? String(err)}`);
    return EXIT.PROBLEM;
  }
}

function readVersion(): string {
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// A closed pipe (`wal dump ... | head`) is a normal way for a reader to stop.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`wal: internal error: ${String((err as Error)?.stack ?? err)}\n`);
      process.exitCode = 1;
    },
  );
}
