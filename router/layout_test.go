package router

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// server simulates the caller (server/): each "master request" is a set of
// entries split by the current PartitionCount into one shipment per
// partition, shipped in request order.
type server struct {
	tb   *Table
	res  *results
	keys []string
	seq  int
	next int
	want map[string][]int
}

func (s *server) request(n int, rng *rand.Rand) {
	count := s.tb.PartitionCount()
	b := map[int]*Builder{}
	for i := 0; i < n; i++ {
		k := s.keys[rng.IntN(len(s.keys))]
		raw, h := encodeEntry(k, s.seq)
		p := mutation.PartitionIndex(h, count)
		if b[p] == nil {
			b[p] = new(Builder)
		}
		b[p].Add(raw, h, int64(s.seq))
		s.want[k] = append(s.want[k], s.seq)
		s.seq++
	}
	for p := 0; p < count; p++ {
		if b[p] == nil {
			continue
		}
		s.tb.Ship(p, b[p].Shipment(count), s.res.cb(s.next))
		s.next++
	}
}

func TestLayoutChangeResplits(t *testing.T) {
	cases := []struct {
		name  string
		split bool // go through the "children not ready" phase first
	}{
		{"split with children not ready first", true},
		{"count doubles at once", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(4)
			// Slow replies so that shipments queue up behind the heads.
			f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
				time.Sleep(200 * time.Microsecond)
				return nil, nil, true
			}
			var changes atomic.Int32
			var mu sync.Mutex
			var change [2]int
			tb := openTable(t, f, func(o *Options) {
				o.RefreshEvery = 5 * time.Millisecond
				o.MaxBatchBytes = 300 // small coalesced batches: more RPCs in flight
				o.OnLayoutChange = func(old, n int) {
					mu.Lock()
					change = [2]int{old, n}
					mu.Unlock()
					changes.Add(1)
				}
			})
			srv := &server{tb: tb, res: newResults(), want: map[string][]int{}}
			for i := 0; i < 40; i++ {
				srv.keys = append(srv.keys, "key"+strconv.Itoa(i))
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < 30; i++ {
				srv.request(6, rng)
			}
			if tc.split {
				f.startSplit()
				before := tb.Stats().Refreshes
				for tb.Stats().Refreshes < before+2 {
					time.Sleep(time.Millisecond)
				}
				if n := tb.PartitionCount(); n != 4 {
					t.Fatalf("children not ready, PartitionCount = %d, want 4", n)
				}
				for i := 0; i < 30; i++ {
					srv.request(6, rng)
				}
				f.finishSplit()
			} else {
				f.startSplit()
				f.finishSplit()
			}
			// Keep shipping while the router notices: some shipments are
			// split for 4, some for 8.
			for i := 0; i < 200; i++ {
				srv.request(6, rng)
				if i%20 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			srv.res.wait(t, 20*time.Second)
			for id, r := range srv.res.got {
				if r.Status != StatusOK {
					t.Fatalf("shipment %d: %+v", id, r)
				}
			}
			checkOrder(t, f, srv.want)
			st := tb.Stats()
			if tb.PartitionCount() != 8 || st.LayoutChanges != 1 || changes.Load() != 1 {
				t.Fatalf("count %d, layout changes %d, callbacks %d", tb.PartitionCount(), st.LayoutChanges, changes.Load())
			}
			mu.Lock()
			defer mu.Unlock()
			if change != [2]int{4, 8} {
				t.Fatalf("OnLayoutChange(%d, %d)", change[0], change[1])
			}
			if st.Resplit == 0 || st.ResplitFallback != 0 {
				t.Fatalf("resplit %d, fallback %d", st.Resplit, st.ResplitFallback)
			}
			if tb.QueuedBytesTotal() != 0 {
				t.Fatalf("queued bytes %d", tb.QueuedBytesTotal())
			}
		})
	}
}

func TestSplitShipment(t *testing.T) {
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	var kv []any
	for i, k := range keys {
		kv = append(kv, k, i)
	}
	s := shipment(2, kv...)
	s.FirstDecree, s.LastDecree = 7, 9
	cases := []struct {
		name  string
		count int
	}{{"one partition", 1}, {"two", 2}, {"eight", 8}, {"odd count", 5}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := splitShipment(s, tc.count)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, pt := range parts {
				if tc.count == 1 && pt.s != s {
					t.Fatal("single-partition split copied the shipment")
				}
				it, err := mutation.NewDupIter(pt.s.Body)
				if err != nil {
					t.Fatal(err)
				}
				var e mutation.DupEntry
				prev := -1
				var last uint64
				for it.Next(&e) {
					h, _ := e.Hash()
					if mutation.PartitionIndex(h, tc.count) != pt.p {
						t.Fatalf("entry in partition %d routes to %d", pt.p, mutation.PartitionIndex(h, tc.count))
					}
					if int(e.Timestamp) <= prev {
						t.Fatalf("order lost inside a part")
					}
					prev, last = int(e.Timestamp), h
					total++
				}
				if it.Err() != nil || pt.s.Entries != it.Len() || pt.s.PartitionHash != last || pt.s.FirstDecree != 7 {
					t.Fatalf("part %d: %v entries %d/%d hash %x/%x", pt.p, it.Err(), pt.s.Entries, it.Len(), pt.s.PartitionHash, last)
				}
			}
			if total != len(keys) {
				t.Fatalf("%d entries after split, want %d", total, len(keys))
			}
		})
	}
	if _, err := splitShipment(&Shipment{Body: []byte{0x0C, 0, 0, 0x0A}}, 4); err == nil {
		t.Fatal("non-canonical body split")
	}
}
