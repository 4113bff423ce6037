package router

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// startSim starts a simulated follower with table "t" (strict placement:
// a misplaced key is an error, never silently stored) that accepts the
// cluster id 1 our test entries carry.
func startSim(t *testing.T, partitions int, mod func(*pegasussim.Options)) *pegasussim.Cluster {
	t.Helper()
	o := pegasussim.Options{
		Tables:   []pegasussim.TableSpec{{Name: "t", Partitions: partitions}},
		Strict:   true,
		DupGroup: map[string]uint8{"master": 1},
	}
	if mod != nil {
		mod(&o)
	}
	c, err := pegasussim.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func simOpts(c *pegasussim.Cluster) Options {
	return Options{
		Table: "t", Metas: []string{c.MetaAddr()},
		BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond,
		RefreshInterval: time.Millisecond, RPCTimeout: 2 * time.Second,
		Client: rpcclient.Options{DialTimeout: time.Second},
	}
}

// simServer plays server/ against the simulator: requests of random keys,
// split by PartitionCount, shipped in order; it remembers each key's last
// seq to compare with the follower's final state.
type simServer struct {
	tb   *Table
	res  *results
	rng  *rand.Rand
	seq  int
	next int
	last map[string]int
}

func (s *simServer) request(n, nkeys int) {
	count := s.tb.PartitionCount()
	b := map[int]*Builder{}
	for i := 0; i < n; i++ {
		k := "key" + strconv.Itoa(s.rng.IntN(nkeys))
		raw, h := encodeEntry(k, s.seq)
		p := int(h % uint64(count))
		if b[p] == nil {
			b[p] = new(Builder)
		}
		b[p].Add(raw, h, int64(s.seq))
		s.last[k] = s.seq
		s.seq++
	}
	for p, bb := range b {
		s.tb.Ship(p, bb.Shipment(count), s.res.cb(s.next))
		s.next++
	}
}

func (s *simServer) verify(t *testing.T, c *pegasussim.Cluster) {
	t.Helper()
	for k, seq := range s.last {
		r, ok, err := c.Get("t", []byte(k), []byte("s"))
		if err != nil || !ok {
			t.Fatalf("key %q missing on the follower: %v", k, err)
		}
		if got := string(r.Value); got != strconv.Itoa(seq) {
			t.Fatalf("key %q: follower has seq %s, want %d (a later write was overtaken)", k, got, seq)
		}
		if r.Misplaced {
			t.Fatalf("key %q misplaced in partition %d", k, r.Partition)
		}
	}
	if bad, err := c.CheckPlacement("t"); err != nil || len(bad) != 0 {
		t.Fatalf("misplaced records: %v %v", bad, err)
	}
}

func TestWithPegasusSim(t *testing.T) {
	const partitions = 8
	rounds := 300
	if testing.Short() {
		rounds = 100
	}
	cases := []struct {
		name  string
		fault func(t *testing.T, c *pegasussim.Cluster, tb *Table, step int)
		retry bool // the fault must cause retries
	}{
		{"no faults", nil, false},
		{"rpc errors for the next calls", func(t *testing.T, c *pegasussim.Cluster, tb *Table, step int) {
			if step%50 == 10 {
				_ = c.InjectError(codec.RPCDuplicate, codec.ErrorBusy, 5)
			}
		}, true},
		{"follower error codes", func(t *testing.T, c *pegasussim.Cluster, tb *Table, step int) {
			if step%50 == 10 {
				_ = c.InjectDuplicateError(13, "try again", 5)
			}
		}, true},
		{"connections closed", func(t *testing.T, c *pegasussim.Cluster, tb *Table, step int) {
			if step%40 == 20 {
				_, _ = c.CloseConnections("")
			}
		}, false}, // a close between calls costs nothing
		{"primary moves", func(t *testing.T, c *pegasussim.Cluster, tb *Table, step int) {
			if step%30 == 5 {
				_, _ = c.MovePrimary("t", step%partitions, step%3)
			}
		}, true},
		{"partition unavailable for a while", func(t *testing.T, c *pegasussim.Cluster, tb *Table, step int) {
			if step == 20 {
				_ = c.MakeUnavailable("t", 3, 50*time.Millisecond, codec.ErrorObjectNotFound)
				_ = c.MakeUnavailable("t", 5, 50*time.Millisecond, codec.ErrorInvalidState)
			}
		}, true},
		{"delayed replies", func(t *testing.T, c *pegasussim.Cluster, tb *Table, step int) {
			switch step {
			case 10:
				c.SetDelay(codec.RPCDuplicate, 2*time.Millisecond)
			case 60:
				c.SetDelay(codec.RPCDuplicate, 0)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := startSim(t, partitions, nil)
			tb, err := New(context.Background(), simOpts(c))
			if err != nil {
				t.Fatal(err)
			}
			defer tb.Close()
			if tb.PartitionCount() != partitions || tb.AppID() <= 0 {
				t.Fatalf("table: %d partitions, app id %d", tb.PartitionCount(), tb.AppID())
			}
			srv := &simServer{tb: tb, res: newResults(), rng: rand.New(rand.NewPCG(3, 4)), last: map[string]int{}}
			for step := 0; step < rounds; step++ {
				if tc.fault != nil {
					tc.fault(t, c, tb, step)
				}
				srv.request(5, 64)
				if step%10 == 0 {
					time.Sleep(200 * time.Microsecond) // let faults interleave
				}
			}
			srv.res.wait(t, 30*time.Second)
			for id, r := range srv.res.got {
				if r.Status != StatusOK {
					t.Fatalf("shipment %d: %+v", id, r)
				}
			}
			srv.verify(t, c)
			st := tb.Stats()
			if tc.retry && st.Retries == 0 {
				t.Fatalf("fault caused no retry: %+v", st.Errors)
			}
			if cs := c.Counters(); cs.MisplacedRejected["t"] != 0 || cs.Malformed != 0 {
				t.Fatalf("simulator counters: %+v", cs)
			}
		})
	}
}

func TestWithPegasusSimSkipUnconfiguredClusterID(t *testing.T) {
	// The follower's [duplication-group] lacks our cluster id 1: it answers
	// error 4 "request cluster id is unconfigured" (duplication.md §4.2).
	c := startSim(t, 4, func(o *pegasussim.Options) { o.DupGroup = map[string]uint8{"other": 2} })
	core, logs := observer.New(zapcore.InfoLevel)
	o := simOpts(c)
	o.Policy, o.MaxAttempts, o.Logger = PolicySkip, 3, zap.New(core)
	var hooked atomic.Int32 // OnInvalidArgument sees every error 4, with its partition
	o.OnInvalidArgument = func(p int, err error) {
		if p == 1 && errors.Is(err, ErrInvalidArgument) {
			hooked.Add(1)
		}
	}
	tb, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	res := newResults()
	tb.Ship(1, shipment(4, keysFor(1, 4, 1)[0], 1), res.cb(1))
	res.wait(t, 10*time.Second)
	r := res.got[1]
	if r.Status != StatusSkipped || r.Attempts != 3 || !errors.Is(r.Err, ErrInvalidArgument) {
		t.Fatalf("%+v", r)
	}
	var fe *FollowerError
	if !errors.As(r.Err, &fe) || fe.Code != 4 || fe.Hint == "" {
		t.Fatalf("follower error %+v", fe)
	}
	if st := tb.Stats(); st.InvalidArgument != 3 || st.SkippedBatches != 1 || st.Errors["rocksdb:InvalidArgument"] != 3 {
		t.Fatalf("stats %+v", st)
	}
	if n := logs.FilterMessageSnippet("InvalidArgument").Len(); n != 3 {
		t.Fatalf("%d loud log lines, want 3", n)
	}
	if n := logs.FilterMessageSnippet("skipped").Len(); n != 1 {
		t.Fatalf("%d skip log lines, want 1", n)
	}
	if n := hooked.Load(); n != 3 {
		t.Fatalf("OnInvalidArgument called %d times for partition 1, want 3", n)
	}
}

func TestWithPegasusSimCloseNoLeak(t *testing.T) {
	c := startSim(t, 4, nil)
	base := runtime.NumGoroutine()
	c.SetDelay(codec.RPCDuplicate, time.Hour) // replies never come
	tb, err := New(context.Background(), simOpts(c))
	if err != nil {
		t.Fatal(err)
	}
	res := newResults()
	for p := 0; p < 4; p++ {
		tb.Ship(p, shipment(4, keysFor(p, 4, 1)[0], 1), res.cb(p))
	}
	for tb.Stats().InFlight != 4 {
		time.Sleep(time.Millisecond)
	}
	tb.Close()
	res.wait(t, 5*time.Second)
	for p, r := range res.got {
		if r.Status != StatusClosed {
			t.Fatalf("partition %d: %+v", p, r)
		}
	}
	c.SetDelay(codec.RPCDuplicate, 0)
	waitGoroutines(t, base)
}
