package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
)

// A master's concurrent hash queues and retries can deliver an older write
// of a key after a newer one (duplication.md §7 item 7). The bridge forwards
// the newer one and drops the older: a request whose every entry is
// superseded is acknowledged without shipping anything, and a request with
// some superseded entries ships only the others.
func TestSupersededWritesAreNotForwarded(t *testing.T) {
	sh := newFakeShipper(map[string]int{"orders": 4}, true)
	s := startServer(t, testConfig(t, nil), sh, nil)
	cl := dial(t, s, codec.FramingRDSN)
	ack := func(id uint64) {
		t.Helper()
		f := cl.recv()
		r, err := mutation.ParseDupResponse(f.Body)
		if err != nil || r.Error != 0 || f.ID != id {
			t.Fatalf("reply to %d: id %d, %+v, %v", id, f.ID, r, err)
		}
	}
	newer := putEntry("k", "s", "new", 2000, 1)
	cl.send(cl.request(1, codec.RPCDuplicate, 5, 0, dupBody(0, newer)))
	ack(1)
	shippedBefore := len(sh.snapshot())

	// The older write of k alone: acknowledged, nothing shipped.
	cl.send(cl.request(2, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "old", 1000, 1))))
	ack(2)
	time.Sleep(50 * time.Millisecond)
	if n := len(sh.snapshot()); n != shippedBefore {
		t.Fatalf("a superseded write was shipped (%d parts, want %d)", n, shippedBefore)
	}

	// An older write of k with a new key j: only j is shipped.
	other := putEntry("j", "s", "v", 1500, 1)
	cl.send(cl.request(3, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "old", 1001, 1), other)))
	parts := sh.waitParts(t, shippedBefore+1)[shippedBefore:]
	ack(3)
	if len(parts) != 1 || parts[0].Entries != 1 {
		t.Fatalf("shipped %+v, want one part with j only", parts)
	}
	it, err := mutation.NewDupIter(parts[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	var e mutation.DupEntry
	if !it.Next(&e) || e.Timestamp != 1500 {
		t.Fatalf("shipped entry %+v, want j's", e)
	}
	if st := s.Stats(); st.DupSuperseded != 2 {
		t.Fatalf("DupSuperseded = %d, want 2", st.DupSuperseded)
	}
}

// With verify_timetag, every PUT and MULTI_PUT entry is forwarded with
// verify_timetag set (the follower then keeps the newer value itself,
// duplication.md §4.4); REMOVE entries are forwarded unchanged.
func TestVerifyTimetagMarksPuts(t *testing.T) {
	cfg := testConfig(t, func(s string) string {
		return strings.Replace(s, "  master_cluster = A\n", "  master_cluster = A\n  verify_timetag = true\n", 1)
	})
	sh := newFakeShipper(map[string]int{"orders": 1}, true)
	s := startServer(t, cfg, sh, nil)
	cl := dial(t, s, codec.FramingRDSN)
	rm := putEntry("r", "s", "", 300, 1)
	rm.TaskCode = []byte(codec.RPCRemove)
	rm.RawMessage = mutation.AppendRemove(nil, 0, mutation.AppendRawKey(nil, []byte("r"), []byte("s")))
	mp := putEntry("m", "s", "", 400, 1)
	mp.TaskCode = []byte(codec.RPCMultiPut)
	mp.RawMessage = mutation.AppendMultiPut(nil, 0, &mutation.MultiPutRequest{HashKey: []byte("m"),
		Kvs: []mutation.KeyValue{{Key: []byte("a"), Value: []byte("v")}}})
	cl.send(cl.request(1, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("p", "s", "v", 200, 1), rm, mp)))
	parts := sh.waitParts(t, 1)
	if r, err := mutation.ParseDupResponse(cl.recv().Body); err != nil || r.Error != 0 {
		t.Fatalf("reply %+v %v", r, err)
	}
	if b := parts[0].Body; cap(b) > len(b)+16 {
		// The body is sized for the marked entries up front: growing it
		// would copy it and double the bytes held against the in-flight cap.
		t.Errorf("part body: len %d, cap %d", len(b), cap(b))
	}
	it, err := mutation.NewDupIter(parts[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	var e mutation.DupEntry
	var got []string
	for it.Next(&e) {
		got = append(got, fmt.Sprintf("%s:%v", e.Code(), e.VerifyTimetag))
		if e.Timestamp == 0 || !e.HasClusterID || e.ClusterID != 1 {
			t.Errorf("entry lost its timestamp or cluster id: %+v", e)
		}
	}
	want := []string{"RPC_RRDB_RRDB_PUT:true", "RPC_RRDB_RRDB_REMOVE:false", "RPC_RRDB_RRDB_MULTI_PUT:true"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("forwarded %v, want %v", got, want)
	}
}
