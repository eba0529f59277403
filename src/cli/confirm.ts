/**
 * Asking before a destructive step. On a terminal the user types y/yes; without a terminal the
 * command must have been given --yes, because a script that pipes into `wal repair` should not
 * be able to cut data by accident.
 */
import * as readline from 'node:readline';

/** Asks `question` on stderr and reads one line from stdin; true only for y / yes. */
export async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(`${question} [y/N] `, resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
