package router

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/rpcclient"
)

func openTable(t *testing.T, f *fakeFollower, mod func(*Options)) *Table {
	t.Helper()
	o := testOpts(f)
	if mod != nil {
		mod(&o)
	}
	tb, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

// shipAll ships rounds shipments per partition, each with two entries on
// the partition's keys, from one goroutine per partition (Ship order per
// partition = seq order), and returns the wanted (key → seqs).
func shipAll(t *testing.T, tb *Table, res *results, count, rounds int) map[string][]int {
	return shipKeys(t, tb, res, count, rounds, 3, 1)
}

// shipKeys is shipAll over nkeys keys per partition, shipment r using keys
// r*stride and r*stride+1: with nkeys 3 and stride 1 every shipment shares
// a key with the one before; with more keys and a larger stride, runs of
// shipments are key-disjoint and share the wire (Options.Window).
func shipKeys(t *testing.T, tb *Table, res *results, count, rounds, nkeys, stride int) map[string][]int {
	t.Helper()
	want := map[string][]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for p := 0; p < count; p++ {
		keys := keysFor(p, count, nkeys)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				k1, k2 := keys[(r*stride)%nkeys], keys[(r*stride+1)%nkeys]
				s1, s2 := 2*r, 2*r+1
				tb.Ship(p, shipment(count, k1, s1, k2, s2), res.cb(p*100000+r))
				mu.Lock()
				want[k1] = append(want[k1], s1)
				want[k2] = append(want[k2], s2)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return want
}

func TestOrderUnderFaults(t *testing.T) {
	const count, rounds = 4, 40
	cases := []struct {
		name    string
		hook    faultHook
		refresh bool // the fault must trigger meta refreshes
	}{
		{"no faults", nil, false},
		{"rpc errors for the next calls", func(f *fakeFollower) func(*fakeCall) (*rpcclient.Response, error, bool) {
			return func(c *fakeCall) (*rpcclient.Response, error, bool) {
				if c.n%3 != 0 && c.n < 60 {
					return &rpcclient.Response{Err: codec.ErrorBusy}, nil, false
				}
				return nil, nil, true
			}
		}, false},
		{"follower try-again", func(f *fakeFollower) func(*fakeCall) (*rpcclient.Response, error, bool) {
			return func(c *fakeCall) (*rpcclient.Response, error, bool) {
				if c.n%2 == 0 && c.n < 80 {
					return dupResp(13, "try again"), nil, false
				}
				return nil, nil, true
			}
		}, false},
		{"connection closed before apply", func(f *fakeFollower) func(*fakeCall) (*rpcclient.Response, error, bool) {
			return func(c *fakeCall) (*rpcclient.Response, error, bool) {
				if c.n%4 == 1 && c.n < 80 {
					return nil, fmt.Errorf("fake: %w", rpcclient.ErrConnClosed), false
				}
				return nil, nil, true
			}
		}, true},
		{"reply lost after apply", func(f *fakeFollower) func(*fakeCall) (*rpcclient.Response, error, bool) {
			return func(c *fakeCall) (*rpcclient.Response, error, bool) {
				if c.n%3 == 1 && c.n < 80 {
					return nil, fmt.Errorf("fake: %w", rpcclient.ErrConnClosed), true
				}
				return nil, nil, true
			}
		}, true},
		{"delayed replies", func(f *fakeFollower) func(*fakeCall) (*rpcclient.Response, error, bool) {
			return func(c *fakeCall) (*rpcclient.Response, error, bool) {
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				return nil, nil, true
			}
		}, false},
		{"primary moves", func(f *fakeFollower) func(*fakeCall) (*rpcclient.Response, error, bool) {
			return func(c *fakeCall) (*rpcclient.Response, error, bool) {
				if c.n%3 == 2 && c.n < 30 {
					// Move the partition's primary: the old one now answers
					// ERR_INVALID_STATE until the router refreshes.
					f.mu.Lock()
					p := int(c.req.PartitionIndex)
					f.primary[p] = fmt.Sprintf("127.0.0.2:%d", 35000+c.n)
					f.ballot[p]++
					f.mu.Unlock()
				}
				return nil, nil, true
			}
		}, true},
		{"partition unavailable for a while", func(f *fakeFollower) func(*fakeCall) (*rpcclient.Response, error, bool) {
			var once sync.Once
			return func(c *fakeCall) (*rpcclient.Response, error, bool) {
				once.Do(func() {
					f.mu.Lock()
					f.primary[1] = "" // no primary in the meta view
					f.mu.Unlock()
					time.AfterFunc(30*time.Millisecond, func() {
						f.mu.Lock()
						f.primary[1] = "127.0.0.9:34801"
						f.ballot[1] += 2
						f.mu.Unlock()
					})
				})
				if c.req.PartitionIndex == 1 && c.addr != "127.0.0.9:34801" {
					return &rpcclient.Response{Err: codec.ErrorObjectNotFound}, nil, false
				}
				return nil, nil, true
			}
		}, true},
	}
	for _, tc := range cases {
		for _, maxBatch := range []int{0, -1} { // coalescing on (default) and off
			for _, sparse := range []bool{false, true} { // keys shared by every shipment, or runs of disjoint ones
				name := tc.name
				if maxBatch < 0 {
					name += " no coalescing"
				}
				if sparse {
					name += " sparse keys"
				}
				t.Run(name, func(t *testing.T) {
					testOrderUnderFault(t, count, rounds, maxBatch, sparse, tc.hook, tc.name, tc.refresh)
				})
			}
		}
	}
}

type faultHook func(f *fakeFollower) func(c *fakeCall) (*rpcclient.Response, error, bool)

func testOrderUnderFault(t *testing.T, count, rounds, maxBatch int, sparse bool, hook faultHook, name string, refresh bool) {
	f := newFake(count)
	if hook != nil {
		f.hook = hook(f)
	}
	tb := openTable(t, f, func(o *Options) { o.MaxBatchBytes = maxBatch })
	meta0 := f.metaCount()
	res := newResults()
	var want map[string][]int
	if sparse {
		want = shipKeys(t, tb, res, count, rounds, 8, 3)
	} else {
		want = shipAll(t, tb, res, count, rounds)
	}
	res.wait(t, 20*time.Second)
	for id, r := range res.got {
		if r.Status != StatusOK {
			t.Fatalf("shipment %d: %v %v", id, r.Status, r.Err)
		}
	}
	checkOrder(t, f, want)
	st := tb.Stats()
	if st.ShippedBatches != uint64(count*rounds) || st.ShippedEntries != uint64(2*count*rounds) {
		t.Fatalf("stats: %d batches %d entries, want %d %d", st.ShippedBatches, st.ShippedEntries, count*rounds, 2*count*rounds)
	}
	if st.QueuedBytes != 0 || tb.QueuedBytesTotal() != 0 || st.Queued != 0 {
		t.Fatalf("queued bytes left: %d %d %d", st.QueuedBytes, tb.QueuedBytesTotal(), st.Queued)
	}
	if hook != nil && name != "delayed replies" && st.Retries == 0 {
		t.Fatal("faults injected but no retry counted")
	}
	if refresh && f.metaCount() == meta0 {
		t.Fatal("routing faults did not refresh the config")
	}
}

func TestRefreshOnRoutingErrors(t *testing.T) {
	transport := func() (*rpcclient.Response, error) {
		return nil, fmt.Errorf("fake: %w", rpcclient.ErrConnClosed)
	}
	cases := []struct {
		name    string
		fail    func() (*rpcclient.Response, error)
		refresh bool
	}{
		{codec.ErrorObjectNotFound, nil, true},
		{codec.ErrorInvalidState, nil, true},
		{codec.ErrorParentPartitionMisused, nil, true},
		{codec.ErrorSplitting, nil, true},
		{codec.ErrorHandlerNotFound, nil, true},
		{"connection error", transport, true},
		{codec.ErrorBusy, nil, false},
		{codec.ErrorNotEnoughMember, nil, false},
		{"rocksdb 13", func() (*rpcclient.Response, error) { return dupResp(13, ""), nil }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(2)
			var n atomic.Int32
			f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
				if n.Add(1) == 1 {
					if tc.fail != nil {
						r, err := tc.fail()
						return r, err, false
					}
					return &rpcclient.Response{Err: tc.name}, nil, false
				}
				return nil, nil, true
			}
			tb := openTable(t, f, nil)
			res := newResults()
			tb.Ship(0, shipment(2, keysFor(0, 2, 1)[0], 1), res.cb(1))
			res.wait(t, 5*time.Second)
			if r := res.got[1]; r.Status != StatusOK || r.Attempts != 2 {
				t.Fatalf("result %+v, want OK after 2 attempts", r)
			}
			if tc.refresh {
				// The refresh runs on its own goroutine.
				for i := 0; i < 1000 && tb.Stats().Refreshes < 2; i++ {
					time.Sleep(time.Millisecond)
				}
			}
			st := tb.Stats()
			if got := st.Refreshes > 1; got != tc.refresh {
				t.Fatalf("refreshes %d, want refresh=%v", st.Refreshes, tc.refresh)
			}
			if st.Retries != 1 {
				t.Fatalf("retries %d, want 1", st.Retries)
			}
			var total uint64
			for _, v := range st.Errors {
				total += v
			}
			if total != 1 {
				t.Fatalf("errors %v, want one", st.Errors)
			}
		})
	}
}

func TestSkipPolicy(t *testing.T) {
	for _, code := range []int32{13, 4} {
		t.Run(fmt.Sprintf("error %d", code), func(t *testing.T) {
			f := newFake(2)
			f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
				if c.req.PartitionIndex == 0 {
					return dupResp(code, "request cluster id is unconfigured"), nil, false
				}
				return nil, nil, true
			}
			core, logs := observer.New(zapcore.InfoLevel)
			tb := openTable(t, f, func(o *Options) {
				o.Policy = PolicySkip
				o.MaxAttempts = 3
				o.Logger = zap.New(core)
				o.MaxBatchBytes = -1
			})
			res := newResults()
			k0, k1 := keysFor(0, 2, 1)[0], keysFor(1, 2, 1)[0]
			s := shipment(2, k0, 1, k0, 2)
			s.FirstDecree, s.LastDecree = 100, 101
			tb.Ship(0, s, res.cb(1))
			tb.Ship(0, shipment(2, k0, 3), res.cb(2))
			tb.Ship(1, shipment(2, k1, 4), res.cb(3))
			res.wait(t, 5*time.Second)
			for id, want := range map[int]Status{1: StatusSkipped, 2: StatusSkipped, 3: StatusOK} {
				if r := res.got[id]; r.Status != want {
					t.Fatalf("shipment %d: %v, want %v", id, r.Status, want)
				}
			}
			if r := res.got[1]; r.Attempts != 3 || !errors.Is(r.Err, ErrFollower) {
				t.Fatalf("skipped result %+v", r)
			}
			st := tb.Stats()
			if st.SkippedBatches != 2 || st.SkippedEntries != 3 || st.Partitions[0].SkippedBatches != 2 {
				t.Fatalf("skip counters %+v", st)
			}
			skipped := logs.FilterMessageSnippet("skipped").All()
			if len(skipped) != 2 || skipped[0].ContextMap()["first_decree"] != int64(100) {
				t.Fatalf("skip log lines: %+v", skipped)
			}
			if code == 4 {
				if st.InvalidArgument != 6 {
					t.Fatalf("InvalidArgument counter %d, want 6", st.InvalidArgument)
				}
				loud := logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessageSnippet("InvalidArgument").All()
				if len(loud) != 6 || !strings.Contains(fmt.Sprint(loud[0].ContextMap()["error"]), "unconfigured") {
					t.Fatalf("error-4 log lines: %d %+v", len(loud), loud)
				}
				if !errors.Is(res.got[1].Err, ErrInvalidArgument) {
					t.Fatalf("err %v does not wrap ErrInvalidArgument", res.got[1].Err)
				}
			}
		})
	}
}

func TestSlowPolicyRetriesUntilFaultClears(t *testing.T) {
	f := newFake(2)
	var healthy atomic.Bool
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		if !healthy.Load() {
			return dupResp(4, "request cluster id is unconfigured"), nil, false
		}
		return nil, nil, true
	}
	tb := openTable(t, f, func(o *Options) { o.MaxAttempts = 2 }) // ignored by PolicySlow
	res := newResults()
	k := keysFor(1, 2, 1)[0]
	tb.Ship(1, shipment(2, k, 1), res.cb(1))
	tb.Ship(1, shipment(2, k, 2), res.cb(2))
	for tb.Stats().Retries < 10 {
		time.Sleep(time.Millisecond)
	}
	healthy.Store(true)
	res.wait(t, 5*time.Second)
	if r := res.got[1]; r.Status != StatusOK || r.Attempts < 10 {
		t.Fatalf("result %+v, want OK after ≥10 attempts", r)
	}
	checkOrder(t, f, map[string][]int{k: {1, 2}})
}

func TestSlowPartitionDoesNotBlockOthers(t *testing.T) {
	f := newFake(4)
	release := make(chan struct{})
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		if c.req.PartitionIndex == 2 {
			<-release
		}
		return nil, nil, true
	}
	tb := openTable(t, f, nil)
	blocked := newResults()
	tb.Ship(2, shipment(4, keysFor(2, 4, 1)[0], 1), blocked.cb(1))
	for !tb.Stats().Partitions[2].InFlight {
		time.Sleep(time.Millisecond)
	}
	res := newResults()
	for p := 0; p < 4; p++ {
		if p == 2 {
			continue
		}
		for i := 0; i < 20; i++ {
			tb.Ship(p, shipment(4, keysFor(p, 4, 1)[0], i), res.cb(p*100+i))
		}
	}
	res.wait(t, 5*time.Second)
	if st := tb.Stats(); !st.Partitions[2].InFlight || st.Partitions[2].Queued != 1 || tb.QueuedBytes(2) == 0 {
		t.Fatalf("partition 2 should still be in flight: %+v", st.Partitions[2])
	}
	close(release)
	blocked.wait(t, 5*time.Second)
}

func TestCoalescingKeepsOrder(t *testing.T) {
	f := newFake(1)
	release := make(chan struct{})
	var calls atomic.Int32
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		if calls.Add(1) == 1 {
			<-release
		}
		return nil, nil, true
	}
	tb := openTable(t, f, func(o *Options) { o.Window = 1 }) // coalescing alone
	res := newResults()
	keys := keysFor(0, 1, 2)
	want := map[string][]int{}
	for i := 0; i < 50; i++ {
		k := keys[i%2]
		tb.Ship(0, shipment(1, k, i), res.cb(i))
		want[k] = append(want[k], i)
		for i == 0 && tb.Stats().InFlight == 0 {
			time.Sleep(time.Millisecond) // the head alone is on the wire
		}
	}
	for tb.Stats().Queued != 50 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	res.wait(t, 5*time.Second)
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d RPCs, want 2 (the head, then 49 shipments coalesced)", n)
	}
	checkOrder(t, f, want)
	if st := tb.Stats(); st.Partitions[0].RPCs != 2 || st.ShippedBatches != 50 {
		t.Fatalf("stats %+v", st.Partitions[0])
	}
}

func TestCloseCancelsCleanly(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFake(3)
	f.block = make(chan struct{}) // the follower never answers
	tb, err := New(context.Background(), testOpts(f))
	if err != nil {
		t.Fatal(err)
	}
	res := newResults()
	for p := 0; p < 3; p++ {
		for i := 0; i < 5; i++ {
			tb.Ship(p, shipment(3, keysFor(p, 3, 1)[0], i), res.cb(p*10+i))
		}
	}
	for tb.Stats().InFlight != 3 {
		time.Sleep(time.Millisecond)
	}
	tb.Close()
	tb.Close() // idempotent
	res.wait(t, 5*time.Second)
	for id, r := range res.got {
		if r.Status != StatusClosed || !errors.Is(r.Err, ErrClosed) {
			t.Fatalf("shipment %d: %+v", id, r)
		}
	}
	after := newResults()
	tb.Ship(0, shipment(3, "x", 1), after.cb(1))
	after.wait(t, time.Second)
	if after.got[1].Status != StatusClosed {
		t.Fatalf("Ship after Close: %+v", after.got[1])
	}
	if tb.QueuedBytesTotal() != 0 {
		t.Fatalf("queued bytes after close: %d", tb.QueuedBytesTotal())
	}
	waitGoroutines(t, base)
}

func TestContextCancelClosesTable(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFake(2)
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		return &rpcclient.Response{Err: codec.ErrorBusy}, nil, false // retried forever
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := testOpts(f)
	tb, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	res := newResults()
	tb.Ship(1, shipment(2, keysFor(1, 2, 1)[0], 1), res.cb(1))
	for tb.Stats().Retries < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	res.wait(t, 5*time.Second)
	if res.got[1].Status != StatusClosed {
		t.Fatalf("%+v", res.got[1])
	}
	tb.Close()
	waitGoroutines(t, base)
}

func TestShipRejectsBadInput(t *testing.T) {
	f := newFake(2)
	tb := openTable(t, f, nil)
	cases := []struct {
		name string
		p    int
		s    *Shipment
	}{
		{"nil shipment", 0, nil},
		{"empty body", 0, &Shipment{}},
		{"negative partition", -1, shipment(2, "a", 1)},
		{"partition too large", 2, shipment(2, "a", 1)},
		{"partition too large for its count", 5, shipment(4, "a", 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := newResults()
			tb.Ship(tc.p, tc.s, res.cb(1))
			res.wait(t, time.Second)
			if r := res.got[1]; r.Status != StatusRejected || !errors.Is(r.Err, ErrBadShipment) {
				t.Fatalf("%+v", r)
			}
		})
	}
	if tb.QueuedBytesTotal() != 0 {
		t.Fatal("rejected shipments were counted")
	}
}

func TestNewErrors(t *testing.T) {
	f := newFake(2)
	cases := []struct {
		name string
		o    Options
	}{
		{"no table", Options{Meta: f, Transport: f}},
		{"no metas", Options{Table: "t"}},
		{"unknown table", Options{Table: "nope", Meta: f, Transport: f}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(context.Background(), tc.o); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
	bad := newFake(2)
	bad.appID = 0
	if _, err := New(context.Background(), Options{Table: "t", Meta: bad, Transport: bad}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("app id 0: %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	cases := []struct {
		in   string
		want Policy
		ok   bool
	}{
		{"", PolicySlow, true}, {"slow", PolicySlow, true}, {"SKIP", PolicySkip, true}, {"drop", 0, false},
	}
	for _, tc := range cases {
		got, err := ParsePolicy(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Fatalf("ParsePolicy(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != strings.ToLower(map[bool]string{true: "slow", false: tc.in}[tc.in == ""]) {
			t.Fatalf("String() = %q", got.String())
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	tb := &Table{opts: Options{BackoffMin: 10 * time.Millisecond, BackoffMax: time.Second}}
	cases := []struct {
		fails  int
		lo, hi time.Duration
	}{
		{1, 5 * time.Millisecond, 10 * time.Millisecond},
		{2, 10 * time.Millisecond, 20 * time.Millisecond},
		{5, 80 * time.Millisecond, 160 * time.Millisecond},
		{8, 500 * time.Millisecond, time.Second},
		{40, 500 * time.Millisecond, time.Second},
		{1000, 500 * time.Millisecond, time.Second},
	}
	for _, tc := range cases {
		for i := 0; i < 100; i++ {
			if d := tb.backoff(tc.fails); d < tc.lo || d > tc.hi {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", tc.fails, d, tc.lo, tc.hi)
			}
		}
	}
}

func TestMalformedShipmentIsSentAlone(t *testing.T) {
	f := newFake(1)
	release := make(chan struct{})
	var calls atomic.Int32
	var sizes sync.Map
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		n := calls.Add(1)
		sizes.Store(n, len(c.req.Body))
		if n == 1 {
			<-release
		}
		if n == 3 {
			// The malformed one, alone: the follower refuses it.
			return &rpcclient.Response{Err: codec.ErrorInvalidData}, nil, false
		}
		return nil, nil, true
	}
	tb := openTable(t, f, func(o *Options) { o.Policy, o.MaxAttempts = PolicySkip, 1 })
	res := newResults()
	k := keysFor(0, 1, 1)[0]
	tb.Ship(0, shipment(1, k, 0), res.cb(0))
	for tb.Stats().InFlight == 0 {
		time.Sleep(time.Millisecond)
	}
	good1 := shipment(1, k, 1)
	bad := shipment(1, k, 2)
	bad.Body = bad.Body[:len(bad.Body)-1] // one STOP short: envelope looks fine, entries do not
	good2 := shipment(1, k, 3)
	tb.Ship(0, good1, res.cb(1))
	tb.Ship(0, bad, res.cb(2))
	tb.Ship(0, good2, res.cb(3))
	close(release)
	res.wait(t, 5*time.Second)
	if calls.Load() != 4 {
		t.Fatalf("%d RPCs, want 4 (head, good1, bad alone, good2)", calls.Load())
	}
	if v, _ := sizes.Load(int32(3)); v.(int) != len(bad.Body) {
		t.Fatalf("third RPC has %d bytes, want the malformed shipment alone (%d)", v, len(bad.Body))
	}
	want := map[int]Status{0: StatusOK, 1: StatusOK, 2: StatusSkipped, 3: StatusOK}
	for id, st := range want {
		if res.got[id].Status != st {
			t.Fatalf("shipment %d: %+v, want %v", id, res.got[id], st)
		}
	}
}

func TestCoalescedTooLargeFallsBackToSingle(t *testing.T) {
	// The follower's max_allowed_write_size is below our MaxBatchBytes:
	// it refuses large bodies with ERR_INVALID_DATA (duplication.md §4.1).
	f := newFake(1)
	release := make(chan struct{})
	var calls atomic.Int32
	limit := 0
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		if calls.Add(1) == 1 {
			<-release
		}
		if len(c.req.Body) > limit {
			return &rpcclient.Response{Err: codec.ErrorInvalidData}, nil, false
		}
		return nil, nil, true
	}
	tb := openTable(t, f, nil)
	res := newResults()
	k := keysFor(0, 1, 1)[0]
	first := shipment(1, k, 0)
	limit = len(first.Body) + 8
	tb.Ship(0, first, res.cb(0))
	for tb.Stats().InFlight == 0 {
		time.Sleep(time.Millisecond)
	}
	want := map[string][]int{k: {0}}
	for i := 1; i < 6; i++ {
		tb.Ship(0, shipment(1, k, i), res.cb(i))
		want[k] = append(want[k], i)
	}
	close(release)
	res.wait(t, 5*time.Second)
	for id, r := range res.got {
		if r.Status != StatusOK {
			t.Fatalf("shipment %d: %+v", id, r)
		}
	}
	checkOrder(t, f, want)
	if st := tb.Stats(); st.Errors[codec.ErrorInvalidData] == 0 {
		t.Fatalf("no ERR_INVALID_DATA seen: %v", st.Errors)
	}
	// The lowered cap stays: more queued shipments are not refused again.
	failures := tb.Stats().Errors[codec.ErrorInvalidData]
	release2 := make(chan struct{})
	var blocked atomic.Bool
	f.mu.Lock()
	prev := f.hook
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		if !blocked.Swap(true) {
			<-release2
		}
		return prev(c)
	}
	f.mu.Unlock()
	res2 := newResults()
	tb.Ship(0, shipment(1, k, 10), res2.cb(10))
	for tb.Stats().InFlight == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := 11; i < 16; i++ {
		tb.Ship(0, shipment(1, k, i), res2.cb(i))
	}
	close(release2)
	res2.wait(t, 5*time.Second)
	if got := tb.Stats().Errors[codec.ErrorInvalidData]; got != failures {
		t.Fatalf("ERR_INVALID_DATA again after the cap was lowered: %d → %d", failures, got)
	}
}

// ShipDeferred queues without sending; Flush sends every partition's queue
// as one coalesced RPC, in queue order.
func TestShipDeferredThenFlush(t *testing.T) {
	f := newFake(2)
	var calls atomic.Int32
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		calls.Add(1)
		return nil, nil, true
	}
	tb := openTable(t, f, nil)
	res := newResults()
	want := map[string][]int{}
	for p := 0; p < 2; p++ {
		keys := keysFor(p, 2, 2)
		for i := 0; i < 10; i++ {
			k := keys[i%2]
			tb.ShipDeferred(p, shipment(2, k, i), res.cb(p*100+i))
			want[k] = append(want[k], i)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d RPCs before Flush, want none", n)
	}
	if st := tb.Stats(); st.Queued != 20 {
		t.Fatalf("queued %d, want 20", st.Queued)
	}
	tb.Flush()
	res.wait(t, 5*time.Second)
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d RPCs, want 2 (one coalesced RPC per partition)", n)
	}
	checkOrder(t, f, want)
}

// A deferred shipment split for another partition count is re-split over
// several queues; Flush must start all of them.
func TestShipDeferredStaleCountThenFlush(t *testing.T) {
	f := newFake(2)
	var calls atomic.Int32
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		calls.Add(1)
		return nil, nil, true
	}
	tb := openTable(t, f, nil)
	res := newResults()
	k0, k1 := keysFor(0, 2, 1)[0], keysFor(1, 2, 1)[0]
	tb.ShipDeferred(0, shipment(1, k0, 1, k1, 2), res.cb(1)) // split for 1 partition
	time.Sleep(20 * time.Millisecond)
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d RPCs before Flush, want none", n)
	}
	tb.Flush()
	res.wait(t, 5*time.Second)
	if r := res.got[1]; r.Status != StatusOK {
		t.Fatalf("shipment: %v %v", r.Status, r.Err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d RPCs, want 2 (one per partition of the re-split)", n)
	}
	checkOrder(t, f, map[string][]int{k0: {1}, k1: {2}})
}

// With a window, shipments that share no key with the RPCs on the wire go
// out at once; one that shares a key waits for them, and nothing overtakes
// it.
func TestWindowSendsKeyDisjointShipments(t *testing.T) {
	f := newFake(1)
	release := make(chan struct{})
	var onWire, maxOnWire atomic.Int32
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		n := onWire.Add(1)
		for {
			m := maxOnWire.Load()
			if n <= m || maxOnWire.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		onWire.Add(-1)
		return nil, nil, true
	}
	tb := openTable(t, f, func(o *Options) { o.Window = 4; o.MaxBatchBytes = -1 })
	res := newResults()
	keys := keysFor(0, 1, 4)
	want := map[string][]int{}
	// a, b, c are disjoint: three RPCs on the wire; then a again: it waits.
	for i, k := range []string{keys[0], keys[1], keys[2], keys[0], keys[3]} {
		tb.Ship(0, shipment(1, k, i), res.cb(i))
		want[k] = append(want[k], i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tb.Stats().Partitions[0].RPCs == 0 && onWire.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if n := onWire.Load(); n != 3 {
		t.Fatalf("%d RPCs on the wire, want 3 (a, b, c; the second a waits, and d behind it)", n)
	}
	close(release)
	res.wait(t, 5*time.Second)
	checkOrder(t, f, want)
	if m := maxOnWire.Load(); m > 4 {
		t.Fatalf("%d RPCs on the wire at once, window 4", m)
	}
}

// A shipment's trusted Hashes decide what may share the wire: two
// shipments of different keys declared with one hash are sent one after
// the other, never together.
func TestTrustedHashesDecideConflicts(t *testing.T) {
	f := newFake(1)
	release := make(chan struct{})
	var onWire, maxOnWire atomic.Int32
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		n := onWire.Add(1)
		if n > maxOnWire.Load() {
			maxOnWire.Store(n)
		}
		<-release
		onWire.Add(-1)
		return nil, nil, true
	}
	tb := openTable(t, f, func(o *Options) { o.Window = 4; o.MaxBatchBytes = -1 })
	res := newResults()
	keys := keysFor(0, 1, 2)
	want := map[string][]int{}
	for i, k := range keys {
		s := shipment(1, k, i)
		s.Hashes = []uint64{42} // declared: both entries share hash 42
		tb.Ship(0, s, res.cb(i))
		want[k] = append(want[k], i)
	}
	time.Sleep(30 * time.Millisecond)
	if n := onWire.Load(); n != 1 {
		t.Fatalf("%d RPCs on the wire, want 1: the declared hashes conflict", n)
	}
	close(release)
	res.wait(t, 5*time.Second)
	checkOrder(t, f, want)
	if m := maxOnWire.Load(); m != 1 {
		t.Fatalf("%d RPCs were on the wire together", m)
	}
}
