package server

import (
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
