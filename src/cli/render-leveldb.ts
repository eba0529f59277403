/** Text and JSON renderings of LevelDB log records (and their WriteBatches) for `wal dump`. */
import * as path from 'node:path';
import type { LevelDBRecordInfo } from './leveldb-scan';
import { type Output, escapeBytes } from './output';

const PREVIEW = 64;

/** How a record was stored: one FULL fragment, or FIRST, n MIDDLE and LAST ones. */
function fragmentsText(n: number): string {
  return n === 1 ? 'full' : n === 2 ? 'first+last' : `first+${n - 2} middle+last`;
}

/** A header line per record, then one indented line per WriteBatch op. */
export function levelDBRecordLines(r: LevelDBRecordInfo, out: Output, full: boolean): string[] {
  const max = full ? Infinity : PREVIEW;
  const head = `  ${String(r.offset).padStart(10)}  ${out.paint('cyan', fragmentsText(r.fragments).padEnd(9))} size=${r.size} crc=${out.paint('green', 'ok')}`;
  if (r.batch === undefined) return [`${head} "${escapeBytes(r.data, max)}"`];
  const b = r.batch;
  const lines = [`${head} seq=${b.sequence} count=${b.ops.length}`];
  b.ops.forEach((op, i) => {
    const seq = b.sequence + BigInt(i);
    if (op.type === 'put') {
      lines.push(`      ${out.paint('green', 'put')}    #${seq} "${escapeBytes(op.key, max)}" = "${escapeBytes(op.value, max)}"`);
    } else lines.push(`      ${out.paint('yellow', 'delete')} #${seq} "${escapeBytes(op.key, max)}"`);
  });
  return lines;
}

/** The JSON object for one record (`kind: "record"`); keys/values as escaped text and base64. */
export function levelDBRecordJson(r: LevelDBRecordInfo): Record<string, unknown> {
  const o: Record<string, unknown> = {
    kind: 'record',
    format: 'leveldb',
    file: path.basename(r.file),
    offset: r.offset,
    end: r.end,
    type: r.fragments === 1 ? 'full' : 'fragmented',
    fragments: r.fragments,
    size: r.size,
    crcOk: true,
  };
  if (r.batch) {
    o['sequence'] = r.batch.sequence;
    o['count'] = r.batch.ops.length;
    o['ops'] = r.batch.ops.map((op, i) =>
      op.type === 'put'
        ? {
            op: 'put',
            sequence: r.batch!.sequence + BigInt(i),
            key: escapeBytes(op.key),
            value: escapeBytes(op.value),
            keyBase64: op.key,
            valueBase64: op.value,
          }
        : { op: 'delete', sequence: r.batch!.sequence + BigInt(i), key: escapeBytes(op.key), keyBase64: op.key },
    );
  } else o['data'] = r.data;
  if (r.problem) o['problem'] = { code: r.problem.code, message: r.problem.message };
  return o;
}
