/** How a Problem (the first thing wrong, and the rest) is printed in text and JSON. */
import * as path from 'node:path';
import type { Problem } from './etcd-scan';
import type { Output } from './output';

/** "ERR_WAL_CRC_MISMATCH at 0000...wal offset 4096: walpb: crc mismatch". */
export function problemText(p: Problem, out: Output): string {
  const where = `${p.file}${p.offset !== undefined ? ` offset ${p.offset}` : ''}`;
  return `${out.paint('red', p.code)} at ${where}: ${p.message}${p.detail ? ` (${p.detail})` : ''}`;
}

/** The JSON object for a problem line (`kind: "problem"`). */
export function problemJson(p: Problem): Record<string, unknown> {
  return {
    kind: 'problem',
    code: p.code,
    file: p.file,
    name: path.basename(p.file),
    offset: p.offset ?? null,
    message: p.message,
    detail: p.detail ?? null,
    repairable: p.repairable,
  };
}
