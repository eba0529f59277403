/**
 * One read-only pass over an etcd WAL for dump, verify and stat. Frames are decoded by the
 * library's etcd-exact Decoder (CRC chain, torn-tail and zero-tail rules); on top of it this scan
 * decodes each payload and applies ReadAll's checks (metadata conflict, snapshot match, index
 * gaps, unknown record types), remembering where every segment's data ends. It never opens a
 * file for writing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EMPTY_BYTES as EMPTY, bytesEqual } from '../codec/bytes';
import { WalError, WalErrorCodes } from '../errors';
import { defaultBackend } from '../io/backend';
import {
  type Entry,
  type HardState,
  type Snapshot,
  RecordType,
  decodeEntry,
  decodeHardState,
  decodeRecord,
  decodeSnapshot,
} from '../etcd/codec';
import { Decoder, openSources } from '../etcd/decoder';
import { FRAME_SIZE_BYTES, decodeFrameSize } from '../etcd/frame';
import { checkRegularSegment, parseWalName, selectWalFiles } from '../etcd/segments';
import type { Target } from './detect';
import { hex32 } from './output';

/** walpb record type names. */
export function recordTypeName(type: number): string {
  switch (type) {
    case RecordType.Metadata:
      return 'metadata';
    case RecordType.Entry:
      return 'entry';
    case RecordType.State:
      return 'hardstate';
    case RecordType.Crc:
      return 'crc';
    case RecordType.Snapshot:
      return 'snapshot';
    default:
      return `unknown(${type})`;
  }
}

/** One CRC-valid record with its payload decoded. */
export interface EtcdRecord {
  segment: string;
  offset: number;
  /** Length of the whole frame (length word + record + padding). */
  frameLength: number;
  type: number;
  crc: number;
  /** Length of the record's data field (0 when absent). */
  size: number;
  data: Uint8Array | null;
  entry?: Entry;
  state?: HardState;
  snapshot?: Snapshot;
  /** Set when the data does not decode as its type says (etcd would panic) or the type is unknown. */
  problem?: Problem;
  /** False for entries at or below the --snapshot index (ReadAll skips them). */
  inRange: boolean;
}

/** The first thing wrong, with an exact location. */
export interface Problem {
  code: string;
  message: string;
  file: string;
  offset?: number;
  /** Extra facts, e.g. stored vs computed CRC. */
  detail?: string;
  /** A torn or truncated tail of the last segment: what `wal repair` fixes. */
  repairable: boolean;
}

export interface SegmentInfo {
  path: string;
  name: string;
  seq: bigint | null;
  /** The raft index the segment's first entry is expected to have (from the name). */
  nameIndex: bigint | null;
  size: number;
  /** Bytes holding frames; the rest is preallocated (zero) space or damage. */
  used: number;
  records: number;
  entries: number;
  firstEntry: bigint | null;
  lastEntry: bigint | null;
  /** False when the scan stopped before reaching this segment. */
  scanned: boolean;
}

export interface EtcdScanResult {
  segments: SegmentInfo[];
  records: number;
  entries: number;
  firstEntry: bigint | null;
  lastEntry: bigint | null;
  lastTerm: bigint | null;
  byType: Record<string, number>;
  metadata: Uint8Array | null;
  state: HardState | null;
  snapshots: Snapshot[];
  /** --snapshot given: whether a matching snapshot record was seen. */
  snapshotFound: boolean | null;
  /** Problems in file order; scanning stops at a framing/CRC problem, payload problems are collected. */
  problems: Problem[];
  /** Other files worth knowing about: *.tmp (file pipeline), *.broken (repair backups). */
  extraFiles: string[];
  bytesTotal: number;
}

export interface EtcdScanOptions {
  snapshot?: { index: bigint; term: bigint };
  onRecord?: (rec: EtcdRecord) => void;
  onProgress?: (done: number, total: number) => void;
}

/** Scans the target's segments; never throws for damage (it is returned in `problems`). */
export async function scanEtcd(target: Extract<Target, { format: 'etcd' }>, opts: EtcdScanOptions = {}): Promise<EtcdScanResult> {
  const io = defaultBackend;
  let paths = target.segments;
  const problems: Problem[] = [];
  if (opts.snapshot !== undefined && !target.single) {
    // etcd OpenForRead: start at the last segment that can hold the snapshot's index.
    try {
      paths = (await selectWalFiles(io, target.dir, opts.snapshot.index)).map((n) => path.join(target.dir, n));
    } catch (err) {
      if (!(err instanceof WalError)) throw err;
      problems.push({ code: err.code, message: err.message, file: target.dir, repairable: false });
      paths = [];
    }
  }
  const segments: SegmentInfo[] = paths.map((p) => {
    const name = path.basename(p);
    const parsed = parseWalName(name);
    return {
      path: p,
      name,
      seq: parsed?.seq ?? null,
      nameIndex: parsed?.index ?? null,
      size: sizeOf(p),
      used: 0,
      records: 0,
      entries: 0,
      firstEntry: null,
      lastEntry: null,
      scanned: false,
    };
  });
  const result: EtcdScanResult = {
    segments,
    records: 0,
    entries: 0,
    firstEntry: null,
    lastEntry: null,
    lastTerm: null,
    byType: {},
    metadata: null,
    state: null,
    snapshots: [],
    snapshotFound: opts.snapshot === undefined ? null : false,
    problems,
    extraFiles: target.single
      ? []
      : fs
          .readdirSync(target.dir)
          .filter((n) => n.endsWith('.tmp') || n.endsWith('.broken') || /\.broken\.\d/.test(n))
          .sort(),
    bytesTotal: segments.reduce((a, s) => a + s.size, 0),
  };
  if (segments.length === 0) return result;

  checkSequence(segments, problems);
  for (const seg of segments) {
    try {
      await checkRegularSegment(io, seg.path);
    } catch (err) {
      if (!(err instanceof WalError)) throw err;
      // Nothing past it is read: a device could be endless, and Log.open and WAL refuse it too.
      problems.push({ code: err.code, message: err.message.replace(/ \(.*\)$/, ''), file: seg.path, offset: 0, repairable: false });
      return result;
    }
  }
  const sources = await openSources(io, paths);
  const decoder = new Decoder(io, sources);
  const start = opts.snapshot ?? null;
  let lastKept: bigint | null = start?.index ?? null;
  let metadataSeen = false;
  let doneBefore = 0;
  let doneFile = -1;
  let prevCrc = 0;
  let stoppedAt: string | null = null;
  try {
    for (;;) {
      let rec;
      try {
        rec = await decoder.next();
      } catch (err) {
        if (!(err instanceof WalError)) throw err;
        const p = headerProblem(await frameProblem(err, decoder, sources.length, prevCrc), decoder.fileIndex);
        stoppedAt = p.file;
        problems.push(p);
        break;
      }
      if (rec === null) break;
      // Every record's crc field is the chain value after it: what the next record continues from.
      prevCrc = rec.crc;
      const seg = segments[rec.fileIndex]!;
      if (rec.fileIndex !== doneFile) {
        doneBefore = segments.slice(0, rec.fileIndex).reduce((a, s) => a + s.size, 0);
        doneFile = rec.fileIndex;
      }
      const end = decoder.lastValidOffset;
      seg.used = end;
      seg.records++;
      result.records++;
      const out: EtcdRecord = {
        segment: seg.name,
        offset: rec.offset,
        frameLength: end - rec.offset,
        type: rec.type,
        crc: rec.crc,
        size: rec.data?.length ?? 0,
        data: rec.data,
        inRange: true,
      };
      const typeName = recordTypeName(rec.type);
      result.byType[typeName] = (result.byType[typeName] ?? 0) + 1;
      const where = { file: seg.path, offset: rec.offset };
      const payloadProblem = (err: unknown): Problem => {
        const e = err instanceof WalError ? err : new WalError(WalErrorCodes.CORRUPT_PAYLOAD, String(err));
        return { code: e.code, message: `${typeName} payload does not decode: ${e.message}`, ...where, repairable: false };
      };
      try {
        switch (rec.type) {
          case RecordType.Entry: {
            const e = decodeEntry(rec.data ?? EMPTY);
            out.entry = e;
            seg.entries++;
            result.entries++;
            if (seg.firstEntry === null) seg.firstEntry = e.index;
            seg.lastEntry = e.index;
            if (result.firstEntry === null) result.firstEntry = e.index;
            result.lastEntry = e.index;
            result.lastTerm = e.term;
            if (start !== null && e.index <= start.index) out.inRange = false;
            else if (lastKept !== null && e.index > lastKept + 1n) {
              out.problem = {
                code: WalErrorCodes.SLICE_OUT_OF_RANGE,
                message: `entry index ${e.index} leaves a gap after ${lastKept} (etcd: slice bounds out of range)`,
                ...where,
                repairable: false,
              };
            }
            if (out.inRange) lastKept = e.index;
            break;
          }
          case RecordType.State:
            out.state = decodeHardState(rec.data ?? EMPTY);
            result.state = out.state;
            break;
          case RecordType.Snapshot: {
            const s = decodeSnapshot(rec.data ?? EMPTY);
            out.snapshot = s;
            result.snapshots.push(s);
            if (start !== null && s.index === start.index) {
              if (s.term !== start.term) {
                out.problem = {
                  code: WalErrorCodes.SNAPSHOT_MISMATCH,
                  message: `snapshot record at index ${s.index} has term ${s.term}, expected ${start.term}`,
                  ...where,
                  repairable: false,
                };
              } else result.snapshotFound = true;
            }
            break;
          }
          case RecordType.Metadata:
            if (metadataSeen && !bytesEqual(result.metadata, rec.data)) {
              out.problem = { code: WalErrorCodes.METADATA_CONFLICT, message: 'conflicting metadata found', ...where, repairable: false };
            } else {
              result.metadata = rec.data;
              metadataSeen = true;
            }
            break;
          case RecordType.Crc:
            break;
          default:
            out.problem = {
              code: WalErrorCodes.UNEXPECTED_RECORD_TYPE,
              message: `unexpected block type ${rec.type}`,
              ...where,
              repairable: false,
            };
        }
      } catch (err) {
        out.problem = payloadProblem(err);
      }
      if (out.problem !== undefined) problems.push(out.problem);
      opts.onRecord?.(out);
      opts.onProgress?.(doneBefore + end, result.bytesTotal);
    }
  } finally {
    await Promise.all(sources.map((s) => s.file.close().catch(() => undefined)));
  }
  // Segments the decoder reached: all of them, or up to the one where damage stopped it.
  const stop = stoppedAt === null ? segments.length - 1 : segments.findIndex((s) => s.path === stoppedAt);
  for (let i = 0; i <= (stop < 0 ? segments.length - 1 : stop); i++) segments[i]!.scanned = true;
  const headerless = segments.findIndex((seg, i) => i > 0 && seg.scanned && seg.used === 0);
  if (headerless >= 0 && problems.length === 0) {
    // Stricter than etcd (which reads it as empty and lets its Open zero what follows): every
    // writer syncs a segment's header before the segment becomes visible, so this is damage.
    problems.push({
      code: WalErrorCodes.CHAIN_MISMATCH,
      message: 'the segment has no header: its first frame (the crc record) is zeroed or missing; etcd would read it as empty',
      file: segments[headerless]!.path,
      offset: 0,
      repairable: false,
    });
  }
  if (start === null && !target.single && problems.length === 0 && result.snapshots.length === 0) {
    // Every etcd Open starts at a snapshot record (Create writes {0,0} into the first segment):
    // a directory without any (a 0-byte or zeroed first segment) is one neither etcd nor WAL opens.
    problems.push({
      code: WalErrorCodes.SNAPSHOT_NOT_FOUND,
      message: 'no snapshot record in the WAL: the first segment lacks the header etcd writes (crc, metadata, snapshot)',
      file: segments[0]!.path,
      offset: 0,
      repairable: false,
    });
  }
  if (start !== null && result.snapshotFound === false && !problems.some((p) => p.code === WalErrorCodes.FILE_NOT_FOUND)) {
    problems.push({
      code: WalErrorCodes.SNAPSHOT_NOT_FOUND,
      message: `no snapshot record for index ${start.index} term ${start.term}`,
      file: target.dir,
      repairable: false,
    });
  }
  return result;
}

/** The segment's size; 0 when it cannot be stat'ed (a dangling symlink: checkRegularSegment reports it). */
function sizeOf(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

/**
 * Sequence numbers must be consecutive: a gap means a lost segment. Stricter than etcd's
 * isValidSeq, which lets 0 be followed by anything; purged leading segments are not a gap.
 */
function checkSequence(segments: SegmentInfo[], problems: Problem[]): void {
  let last: bigint | null = null;
  for (const s of segments) {
    if (s.seq === null) continue;
    if (last !== null && s.seq !== last + 1n) {
      problems.push({
        code: WalErrorCodes.FILE_NOT_FOUND,
        message: `segment sequence jumps from ${last} to ${s.seq}: a segment is missing`,
        file: s.path,
        repairable: false,
      });
    }
    last = s.seq;
  }
}

/**
 * A torn first frame of a segment after the first is a torn header, which no crash leaves (headers
 * are synced before the segment is renamed into place). etcd's Repair would cut the whole segment
 * to 0 bytes; like Log.open, wal verify and wal repair call it damage, not a torn tail.
 */
function headerProblem(p: Problem, fileIndex: number): Problem {
  if (p.code !== WalErrorCodes.UNEXPECTED_EOF || p.offset !== 0 || fileIndex === 0) return p;
  return {
    ...p,
    code: WalErrorCodes.CHAIN_MISMATCH,
    message: `the segment has no header: its first frame (the crc record) is torn (${p.message})`,
    repairable: false,
  };
}

/**
 * Turns a Decoder error into a Problem, adding the stored and computed CRC for a mismatch; the
 * computed one continues the chain from `prevCrc`, the crc field of the last good record.
 */
async function frameProblem(err: WalError, decoder: Decoder, files: number, prevCrc: number): Promise<Problem> {
  const file = err.file ?? decoder.currentPath ?? '?';
  const p: Problem = {
    code: err.code,
    message: err.message.replace(/ \(.* at offset \d+\)$/, ''),
    file,
    offset: err.offset,
    repairable: err.code === WalErrorCodes.UNEXPECTED_EOF && decoder.fileIndex === files - 1,
  };
  if (err.code === WalErrorCodes.CRC_MISMATCH && err.offset !== undefined) {
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const word = Buffer.alloc(FRAME_SIZE_BYTES);
        fs.readSync(fd, word, 0, FRAME_SIZE_BYTES, err.offset);
        const { n } = decodeFrameSize(word, 0);
        const body = Buffer.alloc(n);
        fs.readSync(fd, body, 0, n, err.offset + FRAME_SIZE_BYTES);
        const rec = decodeRecord(body);
        const computed = rec.data === null ? prevCrc : defaultBackend.crc32c(rec.data, prevCrc);
        p.detail = `record type ${recordTypeName(rec.type)}, stored crc ${hex32(rec.crc)}, computed ${hex32(computed)}`;
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // The detail is a courtesy; the location above is what matters.
    }
  }
  return p;
}
