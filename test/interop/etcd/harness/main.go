// Command harness drives etcd's own wal package (3.4, Debian golang-etcd-server-dev) from a JSON
// script, so the TypeScript implementation can be compared with it byte for byte.
//
// Usage: harness SCRIPT.json   (stdin is only read by the "waitStdin" op)
// Output: one JSON object per op on stdout, flushed as it happens.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/etcd/raft/raftpb"
	"go.etcd.io/etcd/wal"
	"go.etcd.io/etcd/wal/walpb"
)

// Data is null (absent), {"b64": ...} or {"gen": [seed, length]} (bytes from genBytes).
type Data struct {
	B64 *string   `json:"b64,omitempty"`
	Gen *[2]int64 `json:"gen,omitempty"`
}

type EntryIn struct {
	Term  string `json:"term"`
	Index string `json:"index"`
	Type  int32  `json:"type"`
	Data  *Data  `json:"data"`
}

type StateIn struct {
	Term   string `json:"term"`
	Vote   string `json:"vote"`
	Commit string `json:"commit"`
}

type Op struct {
	Op          string    `json:"op"`
	Dir         string    `json:"dir"`
	Metadata    *Data     `json:"metadata"`
	SegmentSize int64     `json:"segmentSize"`
	State       StateIn   `json:"state"`
	Entries     []EntryIn `json:"entries"`
	Index       string    `json:"index"`
	Term        string    `json:"term"`
	NoSync      bool      `json:"noSync"`
	FullData    bool      `json:"fullData"`
	// bench
	EntrySize int `json:"entrySize"`
	Batch     int `json:"batch"`
	Saves     int `json:"saves"`
}

type Script struct {
	Ops []Op `json:"ops"`
}

// genBytes: xorshift32 stream seeded with seed (0 replaced by 1); identical in test/interop/etcd/gen.ts.
func genBytes(seed int64, n int64) []byte {
	x := uint32(seed)
	if x == 0 {
		x = 1
	}
	out := make([]byte, n)
	for i := range out {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		out[i] = byte(x)
	}
	return out
}

func (d *Data) bytes() []byte {
	if d == nil {
		return nil
	}
	if d.B64 != nil {
		b, err := base64.StdEncoding.DecodeString(*d.B64)
		must(err)
		if b == nil {
			b = []byte{}
		}
		return b
	}
	if d.Gen != nil {
		return genBytes(d.Gen[0], d.Gen[1])
	}
	return []byte{}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func u64(s string) uint64 {
	if s == "" {
		return 0
	}
	v, err := strconv.ParseUint(s, 10, 64)
	must(err)
	return v
}

func s64(v uint64) string { return strconv.FormatUint(v, 10) }

type EntryOut struct {
	Term    string  `json:"term"`
	Index   string  `json:"index"`
	Type    int32   `json:"type"`
	DataLen *int    `json:"dataLen"`
	Sha     string  `json:"sha,omitempty"`
	B64     *string `json:"b64,omitempty"`
}

type FileOut struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	Sha  string `json:"sha"`
}

var out = bufio.NewWriter(os.Stdout)

func emit(v map[string]interface{}) {
	b, err := json.Marshal(v)
	must(err)
	out.Write(b)
	out.WriteByte('\n')
	out.Flush()
}

func errText(err error) interface{} {
	if err == nil {
		return nil
	}
	return err.Error()
}

func stateOut(st raftpb.HardState) map[string]string {
	return map[string]string{"term": s64(st.Term), "vote": s64(st.Vote), "commit": s64(st.Commit)}
}

func entriesOut(ents []raftpb.Entry, full bool) []EntryOut {
	res := make([]EntryOut, 0, len(ents))
	for _, e := range ents {
		eo := EntryOut{Term: s64(e.Term), Index: s64(e.Index), Type: int32(e.Type)}
		if e.Data != nil {
			n := len(e.Data)
			eo.DataLen = &n
			sum := sha256.Sum256(e.Data)
			eo.Sha = hex.EncodeToString(sum[:])
			if full {
				s := base64.StdEncoding.EncodeToString(e.Data)
				eo.B64 = &s
			}
		}
		res = append(res, eo)
	}
	return res
}

func dumpDir(dir string) []FileOut {
	infos, err := ioutil.ReadDir(dir)
	must(err)
	names := []string{}
	for _, fi := range infos {
		names = append(names, fi.Name())
	}
	sort.Strings(names)
	res := []FileOut{}
	for _, n := range names {
		b, err := ioutil.ReadFile(filepath.Join(dir, n))
		must(err)
		sum := sha256.Sum256(b)
		res = append(res, FileOut{Name: n, Size: int64(len(b)), Sha: hex.EncodeToString(sum[:])})
	}
	return res
}

func main() {
	raw, err := ioutil.ReadFile(os.Args[1])
	must(err)
	var script Script
	must(json.Unmarshal(raw, &script))
	var w *wal.WAL
	stdin := bufio.NewReader(os.Stdin)

	readAll := func(op Op) {
		md, st, ents, err := w.ReadAll()
		res := map[string]interface{}{"op": op.Op, "error": errText(err), "state": stateOut(st), "count": len(ents), "entries": entriesOut(ents, op.FullData)}
		if md != nil {
			res["metadata"] = base64.StdEncoding.EncodeToString(md)
		} else {
			res["metadata"] = nil
		}
		emit(res)
	}

	for _, op := range script.Ops {
		if op.SegmentSize > 0 {
			wal.SegmentSizeBytes = op.SegmentSize
		}
		switch op.Op {
		case "readAll", "save", "saveSnapshot", "sync", "releaseLockTo", "close":
			if w == nil {
				// an earlier open failed: report instead of dereferencing nil
				emit(map[string]interface{}{"op": op.Op, "error": "harness: no open WAL"})
				continue
			}
		}
		switch op.Op {
		case "create":
			w, err = wal.Create(nil, op.Dir, op.Metadata.bytes())
			if err != nil {
				w = nil
			}
			if err == nil && op.NoSync {
				w.SetUnsafeNoFsync()
			}
			emit(map[string]interface{}{"op": op.Op, "error": errText(err)})
		case "open", "openForRead":
			snap := walpb.Snapshot{Index: u64(op.Index), Term: u64(op.Term)}
			if op.Op == "open" {
				w, err = wal.Open(nil, op.Dir, snap)
			} else {
				w, err = wal.OpenForRead(nil, op.Dir, snap)
			}
			if err != nil {
				w = nil
			}
			if err == nil && op.NoSync {
				w.SetUnsafeNoFsync()
			}
			emit(map[string]interface{}{"op": op.Op, "error": errText(err)})
		case "readAll":
			readAll(op)
		case "save":
			st := raftpb.HardState{Term: u64(op.State.Term), Vote: u64(op.State.Vote), Commit: u64(op.State.Commit)}
			ents := make([]raftpb.Entry, 0, len(op.Entries))
			for _, e := range op.Entries {
				ents = append(ents, raftpb.Entry{Term: u64(e.Term), Index: u64(e.Index), Type: raftpb.EntryType(e.Type), Data: e.Data.bytes()})
			}
			emit(map[string]interface{}{"op": op.Op, "error": errText(w.Save(st, ents))})
		case "saveSnapshot":
			emit(map[string]interface{}{"op": op.Op, "error": errText(w.SaveSnapshot(walpb.Snapshot{Index: u64(op.Index), Term: u64(op.Term)}))})
		case "sync":
			emit(map[string]interface{}{"op": op.Op, "error": errText(w.Sync())})
		case "releaseLockTo":
			emit(map[string]interface{}{"op": op.Op, "error": errText(w.ReleaseLockTo(u64(op.Index)))})
		case "close":
			emit(map[string]interface{}{"op": op.Op, "error": errText(w.Close())})
			w = nil
		case "repair":
			emit(map[string]interface{}{"op": op.Op, "ok": wal.Repair(nil, op.Dir)})
		case "verify":
			emit(map[string]interface{}{"op": op.Op, "error": errText(wal.Verify(nil, op.Dir, walpb.Snapshot{Index: u64(op.Index), Term: u64(op.Term)}))})
		case "validSnapshotEntries":
			snaps, err := wal.ValidSnapshotEntries(nil, op.Dir)
			list := []map[string]string{}
			for _, s := range snaps {
				list = append(list, map[string]string{"index": s64(s.Index), "term": s64(s.Term)})
			}
			emit(map[string]interface{}{"op": op.Op, "error": errText(err), "snapshots": list})
		case "dump":
			emit(map[string]interface{}{"op": op.Op, "files": dumpDir(op.Dir)})
		case "waitStdin":
			emit(map[string]interface{}{"op": op.Op, "ready": true})
			stdin.ReadString('\n')
		case "benchSave":
			benchSave(op)
		case "benchReadAll":
			c0 := cpuNs()
			t0 := time.Now()
			w, err = wal.OpenForRead(nil, op.Dir, walpb.Snapshot{})
			must(err)
			_, _, ents, err := w.ReadAll()
			el := time.Since(t0)
			cpu := cpuNs() - c0
			n := 0
			for _, e := range ents {
				n += len(e.Data)
			}
			emit(map[string]interface{}{"op": op.Op, "error": errText(err), "count": len(ents), "bytes": n, "ns": el.Nanoseconds(), "cpuNs": cpu})
			w.Close()
			w = nil
		default:
			panic(fmt.Sprintf("unknown op %q", op.Op))
		}
	}
}

// cpuNs: user+system CPU time of this process so far (all threads), in ns.
func cpuNs() int64 {
	var ru syscall.Rusage
	must(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchSave: Saves of op.Batch entries of op.EntrySize bytes into a fresh WAL; times the Saves only.
func benchSave(op Op) {
	w, err := wal.Create(nil, op.Dir, []byte("bench"))
	must(err)
	if op.NoSync {
		w.SetUnsafeNoFsync()
	}
	data := genBytes(1, int64(op.EntrySize))
	index := uint64(0)
	batches := make([][]raftpb.Entry, op.Saves)
	for s := range batches {
		ents := make([]raftpb.Entry, op.Batch)
		for i := range ents {
			index++
			ents[i] = raftpb.Entry{Term: 1, Index: index, Data: data}
		}
		batches[s] = ents
	}
	c0 := cpuNs()
	t0 := time.Now()
	for s, ents := range batches {
		must(w.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: uint64(s*op.Batch + 1)}, ents))
	}
	el := time.Since(t0)
	cpu := cpuNs() - c0
	must(w.Close())
	emit(map[string]interface{}{"op": op.Op, "ns": el.Nanoseconds(), "cpuNs": cpu, "entries": index})
}
