package router

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/rpcclient"
)

// TestHealth: a partition whose RPCs fail makes the table unhealthy from
// its first failed attempt, with the partition and the error's name; a
// success ends it. Failed meta refreshes count as well (partition -1).
func TestHealth(t *testing.T) {
	f := newFake(4)
	var down atomic.Bool
	down.Store(true)
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		if down.Load() && c.req.PartitionIndex == 2 {
			return nil, errors.New("connection refused"), false
		}
		return nil, nil, true
	}
	tb := openTable(t, f, nil)
	if h := tb.Health(); !h.Since.IsZero() {
		t.Fatalf("fresh table: %+v", h)
	}
	before := time.Now()
	res := newResults()
	tb.Ship(2, shipment(4, keysFor(2, 4, 1)[0], 1), res.cb(1))
	tb.Ship(1, shipment(4, keysFor(1, 4, 1)[0], 1), res.cb(2))
	for tb.Stats().Retries < 3 {
		time.Sleep(time.Millisecond)
	}
	h := tb.Health()
	if h.Since.Before(before) || h.Since.After(time.Now()) || h.Partition != 2 || h.Last != "transport" {
		t.Errorf("while partition 2 fails: %+v", h)
	}
	first := h.Since
	time.Sleep(5 * time.Millisecond)
	if h := tb.Health(); !h.Since.Equal(first) {
		t.Errorf("the run's start moved: %v, then %v", first, h.Since)
	}
	down.Store(false)
	res.wait(t, 5*time.Second)
	if h := tb.Health(); !h.Since.IsZero() {
		t.Errorf("after the success: %+v", h)
	}

	f.mu.Lock()
	f.metaErr = errors.New("meta down")
	f.mu.Unlock()
	tb.refresh()
	if h := tb.Health(); h.Since.IsZero() || h.Partition != -1 || h.Last != "meta:transport" {
		t.Errorf("meta failing: %+v", h)
	}
	f.mu.Lock()
	f.metaErr = nil
	f.mu.Unlock()
	tb.refresh()
	if h := tb.Health(); !h.Since.IsZero() {
		t.Errorf("meta back: %+v", h)
	}
}
