package router

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/thrift"
)

// fakeFollower is an in-process follower cluster behind the Meta and
// Transport interfaces: a meta view (app id, partitions with ballot and
// primary) and replicas that apply duplicate requests in arrival order,
// checking gpid, primary and app id as a Pegasus replica does
// (wire.md §4.5). Faults are injected with the hook.
type fakeFollower struct {
	mu      sync.Mutex
	appID   int32
	count   int
	ballot  []int64
	primary []string
	// applied[p] lists (key, seq) in the order partition p applied them.
	applied map[int][]applied
	// serveCount, when set, is the count replicas route by (the parent
	// layout while a split's children are not ready).
	serveCount int
	log        []applied // every apply, in order
	calls      int
	metaCalls  int
	metaErr    error
	resets     int
	// hook runs before the request is applied; it may return a response
	// or error to send instead (apply=false), or let it apply and then
	// override the answer (apply=true: the reply is lost or replaced).
	hook func(c *fakeCall) (resp *rpcclient.Response, err error, apply bool)
	// block, when set, is waited on (or ctx) before answering.
	block chan struct{}
}

type applied struct {
	key string
	seq int
	p   int
}

type fakeCall struct {
	n        int // 1-based call number
	addr     string
	req      *rpcclient.Request
	entries  int
	partHash uint64
}

func newFake(count int) *fakeFollower {
	f := &fakeFollower{appID: 3, count: count, applied: map[int][]applied{}}
	for i := 0; i < count; i++ {
		f.ballot = append(f.ballot, 1)
		f.primary = append(f.primary, fmt.Sprintf("127.0.0.1:%d", 34801+i%3))
	}
	return f
}

func (f *fakeFollower) QueryConfig(ctx context.Context, table string, _ []int32) (*rpcclient.TableConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metaCalls++
	if f.metaErr != nil {
		return nil, f.metaErr
	}
	if table != "t" {
		return nil, &rpcclient.MetaError{Op: "query", Err: codec.ErrorObjectNotFound}
	}
	cfg := &rpcclient.TableConfig{AppID: f.appID, PartitionCount: int32(f.count), IsStateful: true}
	for i := 0; i < f.count; i++ {
		cfg.Partitions = append(cfg.Partitions, rpcclient.PartitionConfig{
			AppID: f.appID, Index: int32(i), Ballot: f.ballot[i], Primary: f.primary[i],
		})
	}
	return cfg, nil
}

// startSplit doubles the partition count with children not ready yet
// (ballot -1, wire.md §6.3): replicas still serve the parent layout.
func (f *fakeFollower) startSplit() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serveCount = f.count
	for i := 0; i < f.count; i++ {
		f.ballot = append(f.ballot, -1)
		f.primary = append(f.primary, f.primary[i])
	}
	f.count *= 2
}

// finishSplit makes every child ready: replicas route by the new count.
func (f *fakeFollower) finishSplit() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := f.count / 2; i < f.count; i++ {
		f.ballot[i] = 1
	}
	f.serveCount = 0
}

func (f *fakeFollower) Reset(addr string) {
	f.mu.Lock()
	f.resets++
	f.mu.Unlock()
}

func (f *fakeFollower) metaCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.metaCalls
}

func (f *fakeFollower) Call(ctx context.Context, addr string, req *rpcclient.Request) (*rpcclient.Response, error) {
	f.mu.Lock()
	f.calls++
	c := &fakeCall{n: f.calls, addr: addr, req: req, partHash: req.PartitionHash}
	hook, block := f.hook, f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, fmt.Errorf("fake: %w", ctx.Err())
		}
	}
	var hresp *rpcclient.Response
	var herr error
	apply := true
	if hook != nil {
		hresp, herr, apply = hook(c)
		if !apply && (hresp != nil || herr != nil) {
			return hresp, herr
		}
	}
	f.mu.Lock()
	resp := f.applyLocked(addr, req)
	f.mu.Unlock()
	if hresp != nil || herr != nil {
		return hresp, herr
	}
	return resp, nil
}

// applyLocked is the replica side: the checks of wire.md §4.5, then every
// entry in order.
func (f *fakeFollower) applyLocked(addr string, req *rpcclient.Request) *rpcclient.Response {
	p := int(req.PartitionIndex)
	if req.RPCName != codec.RPCDuplicate || req.AppID != f.appID || p < 0 || p >= f.count {
		return &rpcclient.Response{Err: codec.ErrorObjectNotFound}
	}
	if f.primary[p] != addr || f.ballot[p] <= 0 {
		return &rpcclient.Response{Err: codec.ErrorInvalidState}
	}
	if req.ThreadHash != req.AppID*7919+req.PartitionIndex {
		return &rpcclient.Response{Err: codec.ErrorInvalidParameters}
	}
	it, err := mutation.NewDupIter(req.Body)
	if err != nil {
		return &rpcclient.Response{Err: codec.ErrorInvalidData}
	}
	serve := f.count
	if f.serveCount > 0 {
		serve = f.serveCount
	}
	var e mutation.DupEntry
	var last uint64
	var batch []applied
	for it.Next(&e) {
		u, err := mutation.Decode(e.Code(), e.RawMessage)
		if err != nil || u.Put == nil {
			return &rpcclient.Response{Err: codec.ErrorInvalidData}
		}
		h, _ := e.Hash()
		last = h
		if mutation.PartitionIndex(h, serve) != p {
			// Our router must never misplace a key; a real replica checks
			// only the header hash, and only with the split env set
			// (wire.md §6.3): the fake is stricter.
			return &rpcclient.Response{Err: codec.ErrorParentPartitionMisused}
		}
		seq, _ := strconv.Atoi(string(u.Put.Value))
		batch = append(batch, applied{key: string(u.Put.Key), seq: seq, p: p})
	}
	if it.Err() != nil {
		return &rpcclient.Response{Err: codec.ErrorInvalidData}
	}
	if last != req.PartitionHash {
		return &rpcclient.Response{Err: codec.ErrorInvalidParameters}
	}
	f.applied[p] = append(f.applied[p], batch...)
	f.log = append(f.log, batch...)
	return &rpcclient.Response{Err: codec.ErrorOK, Body: mutation.AppendDupResponse(nil, 0, 0, "")}
}

// dupResp is an RPC-level ERR_OK answer carrying a follower error code.
func dupResp(code int32, hint string) *rpcclient.Response {
	return &rpcclient.Response{Err: codec.ErrorOK, Body: mutation.AppendDupResponse(nil, 0, code, hint)}
}

// encodeEntry encodes a duplicate_entry (wire.md §4.6) holding a PUT of
// key (hash key hk, sort key "s") with value = seq in decimal.
func encodeEntry(hk string, seq int) (raw []byte, hash uint64) {
	key := mutation.AppendRawKey(nil, []byte(hk), []byte("s"))
	payload := mutation.AppendPut(nil, 0, key, []byte(strconv.Itoa(seq)), 0)
	w := thrift.Writer{}
	w.FieldHeader(thrift.I64, 1)
	w.I64(int64(1700000000000000 + seq))
	w.FieldHeader(thrift.STRUCT, 2)
	w.String(mutation.NamePut)
	w.FieldHeader(thrift.STRUCT, 3)
	w.Blob(payload)
	w.FieldHeader(thrift.BYTE, 4)
	w.I8(1)
	w.Stop()
	return w.B, mutation.KeyHash(key)
}

// keysFor returns n hash keys whose entries route to partition p of count.
func keysFor(p, count, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		hk := "hk" + strconv.Itoa(i)
		_, h := encodeEntry(hk, 0)
		if mutation.PartitionIndex(h, count) == p {
			out = append(out, hk)
		}
	}
	return out
}

// shipment builds a canonical shipment of the given (key, seq) pairs.
func shipment(count int, kv ...any) *Shipment {
	var b Builder
	for i := 0; i < len(kv); i += 2 {
		raw, h := encodeEntry(kv[i].(string), kv[i+1].(int))
		b.Add(raw, h, int64(1700000000000000+kv[i+1].(int)))
	}
	return b.Shipment(count)
}

// results collects done callbacks.
type results struct {
	mu  sync.Mutex
	got map[int]Result
	wg  sync.WaitGroup
	dup bool
}

func newResults() *results { return &results{got: map[int]Result{}} }

func (r *results) cb(id int) func(Result) {
	r.wg.Add(1)
	return func(res Result) {
		r.mu.Lock()
		if _, ok := r.got[id]; ok {
			r.dup = true
		}
		r.got[id] = res
		r.mu.Unlock()
		r.wg.Done()
	}
}

func (r *results) wait(t *testing.T, d time.Duration) {
	t.Helper()
	ch := make(chan struct{})
	go func() { r.wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("done callbacks not all called within %v", d)
	}
	if r.dup {
		t.Fatal("a done callback was called twice")
	}
}

func testOpts(f *fakeFollower) Options {
	return Options{
		Table: "t", Meta: f, Transport: f,
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		RefreshInterval: time.Millisecond, RPCTimeout: 2 * time.Second,
	}
}

// checkOrder asserts the per-key order invariant (design.md "Order per
// follower partition") under at-least-once delivery, over the follower's
// global apply order: when seq x of a key is applied, every wanted seq of
// that key below x was applied before (a retransmitted batch may re-apply
// older values, but nothing overtakes an earlier write), every wanted seq
// arrives, and the key's final value is its highest seq.
func checkOrder(t *testing.T, f *fakeFollower, want map[string][]int) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	wantRaw := map[string][]int{}
	for k, seqs := range want {
		wantRaw[string(mutation.AppendRawKey(nil, []byte(k), []byte("s")))] = seqs
	}
	seen := map[string]map[int]bool{}
	final := map[string]int{}
	for _, a := range f.log {
		if seen[a.key] == nil {
			seen[a.key] = map[int]bool{}
		}
		for _, s := range wantRaw[a.key] {
			if s < a.seq && !seen[a.key][s] {
				t.Fatalf("partition %d: key %q seq %d applied before seq %d", a.p, a.key, a.seq, s)
			}
		}
		seen[a.key][a.seq] = true
		final[a.key] = a.seq
	}
	for k, seqs := range wantRaw {
		for _, s := range seqs {
			if !seen[k][s] {
				t.Fatalf("key %q seq %d never applied", k, s)
			}
		}
		if mx := slices.Max(seqs); final[k] != mx {
			t.Fatalf("key %q: final seq %d, want %d", k, final[k], mx)
		}
	}
}

// waitGoroutines waits until the goroutine count is back to base (leak
// check without a dependency).
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), base, buf[:n])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
