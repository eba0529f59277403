/** Text and JSON renderings of etcd records for `wal dump`. */
import { RecordType } from '../etcd/codec';
import type { EtcdRecord } from './etcd-scan';
import { recordTypeName } from './etcd-scan';
import { type Output, escapeBytes, hex32 } from './output';
import { decodeEtcdRequest, requestJson } from './etcd-request-decode';
import { decodeConfChange, decodeConfChangeV2, entryTypeName, nodeId } from './raft-decode';

const PREVIEW = 64;

/** One text line per record: offset, type, index/term, size, crc, decoded content. */
export function etcdRecordText(r: EtcdRecord, out: Output, full: boolean, raw = false): string {
  const max = full ? Infinity : PREVIEW;
  const head = `  ${String(r.offset).padStart(10)}  ${out.paint('cyan', recordTypeName(r.type).padEnd(9))}`;
  const crc = `crc=${hex32(r.crc)} ${out.paint('green', 'ok')}`;
  let body: string;
  switch (r.type) {
    case RecordType.Entry: {
      const e = r.entry;
      if (e === undefined) {
        body = `size=${r.size} ${crc}`;
        break;
      }
      const data = e.data ?? new Uint8Array(0);
      let content: string;
      if (e.type === 0) {
        // An etcd server's requests are decoded (as etcd-dump-logs does) unless --raw asks for bytes.
        const req = raw ? null : decodeEtcdRequest(data);
        content =
          data.length === 0
            ? out.paint('dim', '(empty: leader no-op)')
            : req !== null
              ? out.paint('magenta', req.summary)
              : `"${escapeBytes(data, max)}"`;
      } else if (raw) content = `"${escapeBytes(data, max)}"`;
      else {
        const cc = e.type === 1 ? decodeConfChange(data) : e.type === 2 ? decodeConfChangeV2(data) : null;
        content = cc !== null ? out.paint('magenta', cc.summary) : `"${escapeBytes(data, max)}"`;
      }
      const skipped = r.inRange ? '' : out.paint('dim', ' (at or below --snapshot: skipped by ReadAll)');
      body = `index=${e.index} term=${e.term} ${entryTypeName(e.type)} size=${data.length} ${crc} ${content}${skipped}`;
      break;
    }
    case RecordType.State: {
      const s = r.state;
      body = s ? `term=${s.term} vote=${nodeId(s.vote)} commit=${s.commit} ${crc}` : `size=${r.size} ${crc}`;
      break;
    }
    case RecordType.Snapshot: {
      const s = r.snapshot;
      const cs = s?.confState ? ` voters=[${s.confState.voters.map(nodeId).join(',')}]` : '';
      body = s ? `index=${s.index} term=${s.term}${cs} ${crc}` : `size=${r.size} ${crc}`;
      break;
    }
    case RecordType.Metadata:
      body = `size=${r.size} ${crc} "${escapeBytes(r.data ?? new Uint8Array(0), max)}"`;
      break;
    case RecordType.Crc:
      body = `crc=${hex32(r.crc)} (chain value carried into this segment)`;
      break;
    default:
      body = `size=${r.size} ${crc}`;
  }
  return `${head} ${body}`;
}

/** The JSON object for one record (`kind: "record"`). Data is base64 plus an escaped preview. */
export function etcdRecordJson(r: EtcdRecord): Record<string, unknown> {
  const o: Record<string, unknown> = {
    kind: 'record',
    format: 'etcd',
    segment: r.segment,
    offset: r.offset,
    frameLength: r.frameLength,
    type: recordTypeName(r.type),
    crc: r.crc,
    crcOk: true,
    size: r.size,
  };
  if (r.entry) {
    const data = r.entry.data;
    o['index'] = r.entry.index;
    o['term'] = r.entry.term;
    o['entryType'] = entryTypeName(r.entry.type);
    o['inRange'] = r.inRange;
    if (r.entry.type === 1 || r.entry.type === 2) {
      const cc = data ? (r.entry.type === 1 ? decodeConfChange(data) : decodeConfChangeV2(data)) : null;
      if (cc) o['confChange'] = { summary: cc.summary, changes: cc.changes, transition: cc.transition ?? null };
    }
    if (r.entry.type === 0 && data) {
      const req = decodeEtcdRequest(data);
      if (req !== null) o['request'] = { kind: req.kind, summary: req.summary, fields: requestJson(req.request) };
    }
    o['data'] = data;
    o['text'] = data ? escapeBytes(data, 256) : null;
  } else if (r.state) {
    o['term'] = r.state.term;
    o['vote'] = r.state.vote;
    o['commit'] = r.state.commit;
  } else if (r.snapshot) {
    o['index'] = r.snapshot.index;
    o['term'] = r.snapshot.term;
    if (r.snapshot.confState) o['confState'] = r.snapshot.confState;
  } else if (r.type === RecordType.Metadata) {
    o['data'] = r.data;
    o['text'] = r.data ? escapeBytes(r.data, 256) : null;
  }
  if (r.problem) o['problem'] = { code: r.problem.code, message: r.problem.message };
  return o;
}
