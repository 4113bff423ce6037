package router

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/rpcclient"
)

// deferringFake is the fake follower behind a DeferringTransport: deferred
// calls wait per address until Flush(addr), which records how many it
// wrote; Go runs at once.
type deferringFake struct {
	*fakeFollower
	mu      sync.Mutex
	queued  map[string][]func()
	flushes map[string][]int // per address: calls written by each Flush
}

func (d *deferringFake) Go(ctx context.Context, addr string, req *rpcclient.Request, cb func(*rpcclient.Response, error)) error {
	go func() { cb(d.Call(ctx, addr, req)) }()
	return nil
}

func (d *deferringFake) GoDeferred(ctx context.Context, addr string, req *rpcclient.Request, cb func(*rpcclient.Response, error)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queued[addr] = append(d.queued[addr], func() { cb(d.Call(ctx, addr, req)) })
	return nil
}

func (d *deferringFake) Flush(addr string) {
	d.mu.Lock()
	q := d.queued[addr]
	delete(d.queued, addr)
	d.flushes[addr] = append(d.flushes[addr], len(q))
	d.mu.Unlock()
	for _, c := range q {
		go c()
	}
}

// The RPCs that one Flush starts leave with one write per replica server:
// shipments deferred to 6 partitions whose primaries are on 3 servers are
// flushed as 3 transport flushes of 2 RPCs each, nothing stays queued, and
// per-key order holds.
func TestFlushWritesOncePerReplicaServer(t *testing.T) {
	f := newFake(6) // primaries 127.0.0.1:34801..34803, two partitions each
	d := &deferringFake{fakeFollower: f, queued: map[string][]func(){}, flushes: map[string][]int{}}
	tb := openTable(t, f, func(o *Options) { o.Transport = d })
	res := newResults()
	want := map[string][]int{}
	for p := 0; p < 6; p++ {
		k := keysFor(p, 6, 1)[0]
		for i := 0; i < 3; i++ {
			tb.ShipDeferred(p, shipment(6, k, i), res.cb(p*100+i))
			want[k] = append(want[k], i)
		}
	}
	tb.Flush()
	res.wait(t, 5*time.Second)
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.queued) != 0 {
		t.Fatalf("calls left queued without a flush: %v", d.queued)
	}
	if len(d.flushes) != 3 {
		t.Fatalf("flushed %d addresses, want 3: %v", len(d.flushes), d.flushes)
	}
	for addr, fl := range d.flushes {
		if len(fl) != 1 || fl[0] != 2 {
			t.Errorf("%s: flushes %v, want one flush of 2 RPCs (one per partition)", addr, fl)
		}
	}
	checkOrder(t, f, want)
}
