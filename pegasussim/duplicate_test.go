package pegasussim

import (
	"testing"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
)

// dupEnt builds a duplicate entry for the tests.
func dupEnt(ts int64, code string, raw []byte, cid int8, verify bool) mutation.DupEntry {
	return mutation.DupEntry{Timestamp: ts, TaskCode: []byte(code), RawMessage: raw, ClusterID: cid, HasClusterID: true, VerifyTimetag: verify, HasVerifyTimetag: verify}
}

func putRaw(hk, sk, v string, exp int32) []byte {
	return mutation.AppendPut(nil, 0, key(hk, sk), []byte(v), exp)
}

// dup sends one duplicate request to the partition of hash and returns its
// duplicate_response fields.
func (h *harness) dup(hash uint64, legacy bool, entries ...mutation.DupEntry) map[int16]any {
	h.t.Helper()
	body, err := mutation.AppendDuplicate(nil, 0, &mutation.DuplicateRequest{Legacy: legacy, Entries: entries})
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(rpcDuplicate, hash, body, dupRespSchema)
}

func TestDuplicateClusterChecksAndHints(t *testing.T) {
	group := map[string]uint8{"master": 1, "follower": 2, "third": 3}
	hk := "hk1"
	hh := hashOf([]byte(hk))
	for _, tc := range []struct {
		name      string
		ignore    bool
		own       uint8
		entries   []mutation.DupEntry
		wantErr   any // int32, or nil when the field is absent
		wantHint  any
		wantApply []string // sort keys that must exist afterwards
	}{
		{"configured id applies", false, 2, []mutation.DupEntry{dupEnt(100, rpcPut, putRaw(hk, "a", "v", 0), 1, false)}, int32(0), nil, []string{"a"}},
		{"unconfigured id", false, 2, []mutation.DupEntry{dupEnt(100, rpcPut, putRaw(hk, "a", "v", 0), 9, false)}, int32(4), HintUnconfigured, nil},
		{"own id", false, 2, []mutation.DupEntry{dupEnt(100, rpcPut, putRaw(hk, "a", "v", 0), 2, false)}, int32(4), HintSelfDuplicate, nil},
		{"missing cluster id is 0, unconfigured", false, 2, []mutation.DupEntry{{Timestamp: 1, TaskCode: []byte(rpcPut), RawMessage: putRaw(hk, "a", "v", 0)}}, int32(4), HintUnconfigured, nil},
		{"dup_ignore_other_cluster_ids accepts others", true, 2, []mutation.DupEntry{dupEnt(100, rpcPut, putRaw(hk, "a", "v", 0), 99, false)}, int32(0), nil, []string{"a"}},
		{"dup_ignore_other_cluster_ids still rejects own", true, 2, []mutation.DupEntry{dupEnt(100, rpcPut, putRaw(hk, "a", "v", 0), 2, false)}, int32(4), HintSelfDuplicate, nil},
		{"known non-duplicable code", false, 2, []mutation.DupEntry{dupEnt(100, rpcIncr, mutation.AppendIncr(nil, 0, &mutation.IncrRequest{Key: key(hk, "a"), Increment: 1}), 1, false)}, int32(4), "unrecognized task code RPC_RRDB_RRDB_INCR", nil},
		{"unregistered code prints TASK_CODE_INVALID", false, 2, []mutation.DupEntry{dupEnt(100, "RPC_WHATEVER", nil, 1, false)}, int32(4), "unrecognized task code TASK_CODE_INVALID", nil},
		{"entries before a failing entry stay applied", false, 2, []mutation.DupEntry{
			dupEnt(100, rpcPut, putRaw(hk, "a", "v", 0), 1, false),
			dupEnt(101, rpcPut, putRaw(hk, "b", "v", 0), 3, false),
			dupEnt(102, rpcPut, putRaw(hk, "c", "v", 0), 9, false),
			dupEnt(103, rpcPut, putRaw(hk, "d", "v", 0), 1, false),
		}, int32(4), HintUnconfigured, []string{"a", "b"}},
		{"empty multi_put kvs succeeds", false, 2, []mutation.DupEntry{
			dupEnt(100, rpcMultiPut, mutation.AppendMultiPut(nil, 0, &mutation.MultiPutRequest{HashKey: []byte(hk)}), 1, false),
			dupEnt(101, rpcMultiRemove, mutation.AppendMultiRemove(nil, 0, &mutation.MultiRemoveRequest{HashKey: []byte(hk)}), 1, false),
			dupEnt(102, rpcPut, putRaw(hk, "z", "v", 0), 1, false),
		}, int32(0), nil, []string{"z"}},
		{"no entries: error field absent", false, 2, nil, nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{Replicas: 2, ClusterID: tc.own, DupGroup: group, DupIgnoreOtherClusterIDs: tc.ignore})
			f := h.dup(hh, false, tc.entries...)
			if f[1] != tc.wantErr || f[2] != tc.wantHint {
				t.Fatalf("response %v, want error %v hint %v", f, tc.wantErr, tc.wantHint)
			}
			recs, _ := h.c.Dump(testTable)
			var got []string
			for _, r := range recs {
				got = append(got, string(r.SortKey))
			}
			if len(got) != len(tc.wantApply) {
				t.Fatalf("applied %v, want %v", got, tc.wantApply)
			}
			for i := range got {
				if got[i] != tc.wantApply[i] {
					t.Fatalf("applied %v, want %v", got, tc.wantApply)
				}
			}
		})
	}
}

func TestDuplicateApplyAndTimetag(t *testing.T) {
	h := newHarness(t, Options{Replicas: 2, ClusterID: 2, DupGroup: map[string]uint8{"m": 1, "f": 2, "x": 3}})
	hk := "h"
	hh := hashOf([]byte(hk))
	exp := h.epoch() + 30
	const ts = 1700000000000000
	f := h.dup(hh, false,
		dupEnt(ts, rpcPut, putRaw(hk, "p", "v", exp), 1, false),
		dupEnt(ts+1, rpcMultiPut, mutation.AppendMultiPut(nil, 0, &mutation.MultiPutRequest{HashKey: []byte(hk), ExpireTsSeconds: exp,
			Kvs: []mutation.KeyValue{{Key: []byte("m1"), Value: []byte("1")}, {Key: []byte("m2"), Value: []byte("2")}, {Key: []byte("gone"), Value: []byte("x")}}}), 3, false),
		dupEnt(ts+2, rpcRemove, mutation.AppendRemove(nil, 0, key(hk, "p")), 1, false),
		dupEnt(ts+3, rpcMultiRemove, mutation.AppendMultiRemove(nil, 0, &mutation.MultiRemoveRequest{HashKey: []byte(hk), SortKeys: [][]byte{[]byte("gone")}}), 1, false),
		dupEnt(ts+4, rpcPut, mutation.AppendUpdateRequest(nil, 1, &mutation.UpdateRequest{Key: key(hk, "cam-del"), Value: []byte("ignored?"), Type: 4, HasType: true}), 1, false),
	)
	if f[1] != int32(0) {
		t.Fatalf("dup: %v", f)
	}
	if _, ok := h.get(hk, "p"); ok {
		t.Fatal("removed key present")
	}
	if _, ok := h.get(hk, "gone"); ok {
		t.Fatal("multi-removed key present")
	}
	// Duplicated puts keep the master's timestamp and cluster id (duplication.md §4.3).
	m1 := h.record(hk, "m1")
	if m1.Timetag != Timetag(ts+1, 3, false) || m1.ExpireTs != uint32(exp) {
		t.Fatalf("m1: timetag %x expire %d", m1.Timetag, m1.ExpireTs)
	}
	// update_request.type is ignored: a translated delete is applied as a put.
	if r := h.record(hk, "cam-del"); string(r.Value) != "ignored?" || r.Timetag != Timetag(ts+4, 1, false) {
		t.Fatalf("typed put: %+v", r)
	}
	if k := h.c.Counters(); k.DupRequests != 1 || k.DupEntriesApplied != 5 || k.Requests[rpcDuplicate] != 1 {
		t.Fatalf("counters: %+v", k)
	}

	// The ≤ v2.3 shape: the request is the entry.
	if f := h.dup(hh, true, dupEnt(ts+5, rpcPut, putRaw(hk, "legacy", "L", 0), 1, false)); f[1] != int32(0) {
		t.Fatalf("legacy: %v", f)
	}
	if v, _ := h.get(hk, "legacy"); v != "L" {
		t.Fatalf("legacy value %q", v)
	}
}

// TestVerifyTimetag: only a strictly larger timetag wins when
// verify_timetag is set (duplication.md §4.4); without it the last write wins.
func TestVerifyTimetag(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1, ClusterID: 5, DupGroup: map[string]uint8{"a": 1, "b": 3, "me": 5}})
	hk := "v"
	hh := hashOf([]byte(hk))
	h.dup(hh, false, dupEnt(1000, rpcPut, putRaw(hk, "k", "base", 0), 3, false))
	for _, tc := range []struct {
		name   string
		ts     int64
		cid    int8
		verify bool
		value  string // what the entry writes
		want   string // what is stored afterwards
	}{
		{"older timestamp discarded", 999, 3, true, "loser", "base"},
		{"equal timetag discarded", 1000, 3, true, "loser", "base"},
		{"equal timestamp, smaller cluster id discarded", 1000, 1, true, "loser", "base"},
		{"older timestamp applied without verify", 10, 1, false, "no-verify", "no-verify"},
		{"equal timestamp, larger cluster id wins", 10, 3, true, "larger-cid", "larger-cid"},
		{"newer timestamp wins", 2000, 1, true, "newer", "newer"},
	} {
		if f := h.dup(hh, false, dupEnt(tc.ts, rpcPut, putRaw(hk, "k", tc.value, 0), tc.cid, tc.verify)); f[1] != int32(0) {
			t.Fatalf("%s: %v", tc.name, f)
		}
		if got, _ := h.get(hk, "k"); got != tc.want {
			t.Fatalf("%s: value %q, want %q", tc.name, got, tc.want)
		}
	}
	// Local writes never verify and always overwrite, even a newer timetag.
	h.dup(hh, false, dupEnt(1<<50, rpcPut, putRaw(hk, "k", "future", 0), 1, false))
	h.put(hk, "k", "local", 0)
	if got, _ := h.get(hk, "k"); got != "local" {
		t.Fatalf("local write lost: %q", got)
	}
	// An expired stored value does not block a verified write.
	h.dup(hh, false, dupEnt(1<<50, rpcPut, putRaw(hk, "e", "exp", h.epoch()-1), 1, false))
	h.dup(hh, false, dupEnt(1, rpcPut, putRaw(hk, "e", "fresh", 0), 1, true))
	if got, _ := h.get(hk, "e"); got != "fresh" {
		t.Fatalf("expired value blocked the write: %q", got)
	}
}

func TestDuplicateCorruptEntry(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1, ClusterID: 2, DupGroup: map[string]uint8{"m": 1, "f": 2}})
	hh := hashOf([]byte("h"))
	truncated := putRaw("h", "bad", "v", 0)
	truncated = truncated[:len(truncated)-4]
	f := h.dup(hh, false,
		dupEnt(1, rpcPut, putRaw("h", "ok", "v", 0), 1, false),
		dupEnt(2, rpcPut, truncated, 1, false),
		dupEnt(3, rpcPut, putRaw("h", "after", "v", 0), 1, false))
	if f[1] != int32(0) {
		t.Fatalf("corrupt entry answered %v", f)
	}
	if _, ok := h.get("h", "ok"); !ok {
		t.Fatal("entry before the corrupt one not applied")
	}
	if _, ok := h.get("h", "after"); ok {
		t.Fatal("entry after the corrupt one applied")
	}
	if k := h.c.Counters(); k.CorruptWrites != 1 {
		t.Fatalf("counters %+v", k)
	}
}

func TestDuplicateOverTHFT(t *testing.T) {
	h := newHarness(t, Options{Replicas: 1, ClusterID: 2, DupGroup: map[string]uint8{"m": 1, "f": 2}})
	k := key("thft", "s")
	// A THFT request carries args with field id 1, and its raw messages
	// start with 0c 00 01 (wire.md §4.6).
	body, _ := mutation.AppendDuplicate(nil, 1, &mutation.DuplicateRequest{Entries: []mutation.DupEntry{
		dupEnt(7, rpcPut, mutation.AppendPut(nil, 1, k, []byte("v"), 0), 1, false)}})
	pidx := pidxOf(k, h.count)
	cn := dial(t, primaryOf(t, h.c, testTable, int(pidx)), codec.FramingTHFT)
	r := cn.call(rpcDuplicate, h.appID, pidx, keyHash(k), body)
	if r.errName != codec.ErrorOK || parseResult(t, r.body, dupRespSchema)[1] != int32(0) {
		t.Fatalf("THFT duplicate: %s %x", r.errName, r.body)
	}
	if v, ok := h.get("thft", "s"); !ok || v != "v" {
		t.Fatal("not applied")
	}
}
