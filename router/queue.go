package router

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// item is one queued shipment (or one part of a re-split shipment).
type item struct {
	s     *Shipment
	done  func(Result) // nil for parts: agg.done is called instead
	agg   *aggregate
	start time.Time
	size  int64
	canon bool // inspect found it well formed: may be coalesced with its neighbours
	// hashes are the routing hashes of its entries (hash-key granularity,
	// mutation.DupEntry.Hash); nil when unknown, which conflicts with
	// everything (doc.go "Order").
	hashes   []uint64
	onWire   bool // part of an RPC on the wire
	attempts int
	lastErr  error
}

// rpc is one RPC on the wire: items in queue order.
type rpc struct {
	items []*item
	body  []byte
	hash  uint64
}

// aggregate completes a re-split shipment when its last part is done.
type aggregate struct {
	done     func(Result)
	start    time.Time
	left     int
	status   Status
	err      error
	attempts int
}

// queue is one follower partition's FIFO. Everything in it is guarded by
// Table.mu. RPCs leave in queue order; up to Window of them may be on the
// wire when no two share a key (doc.go "Order").
type queue struct {
	idx      int
	items    []*item
	retired  bool // replaced by a layout change: never sends again
	deferred bool // in Table.deferred: waits for Flush
	onWire   int  // RPCs on the wire
	// wire counts the entry hashes of the items on the wire: an item may
	// join them only if it shares none.
	wire    map[uint64]int
	unknown int    // items on the wire whose hashes are unknown
	waiting bool   // a backoff or a config refresh must pass before the next send
	waited  bool   // the head already waited for a refresh for want of a primary
	buf     []byte // coalescing buffer (reused while idle)
	bytes   int64
	fails   int // consecutive failed attempts, for the backoff
	// failing is the partition's current run of failed attempts (the
	// follower's reachability, Table.Health).
	failing FailureRun
	// maxBatch, when > 0, lowers MaxBatchBytes for this queue: a
	// coalesced RPC of n bytes refused with ERR_INVALID_DATA (the
	// follower's max_allowed_write_size is below MaxBatchBytes,
	// duplication.md §4.1) sets it to n/2, and it stays.
	maxBatch int
	pc       *partCounters
}

func (t *Table) newQueueLocked(idx int) *queue {
	for len(t.parts) <= idx {
		t.parts = append(t.parts, new(partCounters))
	}
	return &queue{idx: idx, pc: t.parts[idx]}
}

// enqueueLocked appends it to q; the caller then kicks q (kickLocked).
func (t *Table) enqueueLocked(q *queue, it *item) {
	q.items = append(q.items, it)
	q.bytes += it.size
}

// finishLocked removes items (in queue order) from q with result r and
// appends their callbacks to calls (called after the lock is released).
func (t *Table) finishLocked(q *queue, items []*item, r Result, calls *[]func()) {
	now := time.Now()
	for _, it := range items {
		q.bytes -= it.size
		t.queuedBytes.Add(-it.size)
		switch r.Status {
		case StatusOK:
			q.pc.shippedBatches.Add(1)
			q.pc.shippedEntries.Add(uint64(it.s.Entries))
			q.pc.shippedBytes.Add(uint64(it.size))
			if it.s.LastTimestamp > q.pc.lastAcked.Load() {
				q.pc.lastAcked.Store(it.s.LastTimestamp) // under t.mu: no lost update
			}
		case StatusSkipped:
			q.pc.skippedBatches.Add(1)
			q.pc.skippedEntries.Add(uint64(it.s.Entries))
		}
		if it.agg == nil {
			res := r
			res.Attempts = it.attempts
			res.Latency = now.Sub(it.start)
			if res.Status == StatusOK {
				t.ackLatency.observe(res.Latency)
			}
			done := it.done
			*calls = append(*calls, func() { done(res) })
			continue
		}
		a := it.agg
		a.left--
		if r.Status > a.status {
			a.status, a.err = r.Status, r.Err
		}
		a.attempts = max(a.attempts, it.attempts)
		if a.left == 0 {
			res := Result{Status: a.status, Err: a.err, Attempts: a.attempts, Latency: now.Sub(a.start)}
			if res.Status == StatusOK {
				t.ackLatency.observe(res.Latency)
			}
			done := a.done
			*calls = append(*calls, func() { done(res) })
		}
	}
	// Drop the finished items, keeping the others' order.
	if len(items) == len(q.items) {
		clear(q.items)
		q.items = nil // let the backing array go
		return
	}
	// items is a subsequence of q.items (both in queue order): one merge
	// walk, no allocation per completion.
	kept, j := q.items[:0], 0
	for _, it := range q.items {
		if j < len(items) && it == items[j] {
			j++
			continue
		}
		kept = append(kept, it)
	}
	clear(q.items[len(kept):])
	q.items = kept
}

// conflictsLocked reports whether it may not join the RPCs on the wire of
// q: it shares an entry hash with them, or either side's hashes are unknown.
func (q *queue) conflictsLocked(it *item) bool {
	if q.onWire == 0 {
		return false
	}
	if it.hashes == nil || q.unknown > 0 {
		return true
	}
	for _, h := range it.hashes {
		if q.wire[h] > 0 {
			return true
		}
	}
	return false
}

// markLocked puts the items of r on (on=true) or off the wire.
func (q *queue) markLocked(r *rpc, on bool) {
	d := 1
	if !on {
		d = -1
	}
	q.onWire += d
	if q.wire == nil {
		q.wire = map[uint64]int{}
	}
	for _, it := range r.items {
		it.onWire = on
		if it.hashes == nil {
			q.unknown += d
			continue
		}
		for _, h := range it.hashes {
			if q.wire[h] += d; q.wire[h] == 0 {
				delete(q.wire, h)
			}
		}
	}
}

// batchLocked picks the items of the next RPC: the first item not on the
// wire, plus the canonical shipments right behind it while they fit in
// MaxBatchBytes (doc.go "Order": coalescing keeps queue order), none of
// them sharing a key with the RPCs on the wire. It returns nil when the
// first such item conflicts (it must wait: nothing may overtake it).
func (t *Table) batchLocked(q *queue) *rpc {
	first := -1
	for i, it := range q.items {
		if !it.onWire {
			first = i
			break
		}
	}
	if first < 0 || q.conflictsLocked(q.items[first]) {
		return nil
	}
	head := q.items[first]
	r := &rpc{items: []*item{head}, body: head.s.Body, hash: head.s.PartitionHash}
	if t.opts.MaxBatchBytes < 0 {
		return r
	}
	ents, n, ok := CanonicalBody(head.s.Body)
	if !ok || !head.canon {
		return r
	}
	limit := t.opts.MaxBatchBytes
	if q.maxBatch > 0 && q.maxBatch < limit {
		limit = q.maxBatch
	}
	size := len(head.s.Body)
	total := n
	for _, it := range q.items[first+1:] {
		if it.onWire {
			break
		}
		e, m, ok := CanonicalBody(it.s.Body)
		if !ok || !it.canon || size+len(e) > limit || q.conflictsLocked(it) {
			break
		}
		size += len(e)
		total += m
		r.items = append(r.items, it)
	}
	if len(r.items) == 1 {
		return r
	}
	buf := q.buf
	if q.onWire > 0 || buf == nil {
		buf = make([]byte, 0, size) // the idle buffer may be on the wire
	}
	buf = appendBodyHeader(buf[:0], total)
	buf = append(buf, ents...)
	for _, it := range r.items[1:] {
		e, _, _ := CanonicalBody(it.s.Body)
		buf = append(buf, e...)
	}
	buf = append(buf, 0, 0)
	if q.onWire == 0 {
		q.buf = buf
	}
	r.body = buf
	r.hash = r.items[len(r.items)-1].s.PartitionHash
	return r
}

// A partition's sending is event driven (no goroutine per partition): a
// Ship, the completion of the RPC on the wire, or the end of a backoff
// "kicks" the queue, which sends its head (coalesced with what follows,
// batchLocked) when nothing of it is on the wire. The RPC's completion runs
// on the connection's reader goroutine, which acknowledges the shipments
// and sends the next head at once: the path from a master's request to the
// follower and back has no extra goroutine hand-off (design.md step 5).

// kickLocked prepares the next attempts of q while they may start: items
// queued, fewer than Window RPCs on the wire, none of the new RPC's keys on
// the wire, no backoff or refresh pending, no layout change in progress.
// It returns the sends to run after t.mu is released (a send may dial), or
// nil.
func (t *Table) kickLocked(q *queue) func() {
	var sends []func()
	for !t.closed && !q.retired && !q.waiting && !t.pausing && q.onWire < t.opts.Window && len(q.items) > 0 {
		if t.routes[q.idx].addr == "" {
			if q.onWire > 0 {
				break // what is on the wire will refresh the route or fail
			}
			if !q.waited {
				// No primary known (dropped after a routing error, or none in
				// the meta's view): wait for a refresh once before trying.
				q.waited = true
				t.waitThenLocked(q, 0, t.requestRefreshLocked())
				break
			}
		}
		r := t.batchLocked(q)
		if r == nil {
			break
		}
		q.waited = false
		q.markLocked(r, true)
		t.inflight++
		rt := t.routes[q.idx]
		appID := t.appID
		sends = append(sends, func() {
			start := time.Now()
			t.attempt(q.idx, appID, rt, r.body, r.hash, func(o outcome) { t.complete(q, r, rt, start, o) })
		})
	}
	switch len(sends) {
	case 0:
		return nil
	case 1:
		return sends[0]
	}
	return func() {
		for _, s := range sends {
			s()
		}
	}
}

// kickAllLocked kicks every queue; the sends run after t.mu is released.
func (t *Table) kickAllLocked() []func() {
	var sends []func()
	for _, q := range t.queues {
		if s := t.kickLocked(q); s != nil {
			sends = append(sends, s)
		}
	}
	return sends
}

// waitThenLocked makes q wait for delay and then for the refresh ch (either
// may be zero), then kicks it.
func (t *Table) waitThenLocked(q *queue, delay time.Duration, ch chan struct{}) {
	q.waiting = true
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if delay > 0 {
			tm := time.NewTimer(delay)
			select {
			case <-t.ctx.Done():
				tm.Stop()
			case <-tm.C:
			}
		}
		if ch != nil {
			// Retrying a routing error before the new config is in
			// would only fail again.
			t.waitRefresh(ch)
		}
		t.mu.Lock()
		q.waiting = false
		send := t.kickLocked(q)
		t.mu.Unlock()
		if send != nil {
			send()
		}
	}()
}

// complete books the outcome of the RPC r of q. It runs on the goroutine
// that completed the RPC.
func (t *Table) complete(q *queue, r *rpc, rt route, start time.Time, o outcome) {
	if o.err == nil {
		t.rpcLatency.observe(time.Since(start))
	}
	var calls []func()
	t.mu.Lock()
	q.markLocked(r, false)
	t.inflight--
	if t.inflight == 0 {
		t.idle.Broadcast()
	}
	if t.closed || t.ctx.Err() != nil {
		// Shutdown abandons what is on the wire and reports it
		// (StatusClosed); a cancelled RPC is not a failed attempt.
		t.mu.Unlock()
		return
	}
	var delay time.Duration
	var refreshed chan struct{}
	if o.err == nil {
		if q.fails > 0 {
			t.log.Info("duplicate batch delivered after retries", zap.Int("partition", q.idx),
				zap.String("primary", rt.addr), zap.Int("attempts", r.items[0].attempts+1))
		}
		q.fails = 0
		q.failing.Succeed()
		q.pc.rpcs.Add(1)
		for _, it := range r.items {
			it.attempts++
		}
		t.finishLocked(q, r.items, Result{Status: StatusOK}, &calls)
		if len(q.items) == 0 && cap(q.buf) > 64<<10 {
			// An idle partition does not keep a large coalescing
			// buffer (it is a copy the memory accounting ignores).
			q.buf = nil
		}
	} else {
		if len(r.items) > 1 && o.name == codec.ErrorInvalidData {
			q.maxBatch = len(r.body) / 2
			t.log.Warn("follower refused a coalesced batch as too large; lowering the batch size",
				zap.Int("partition", q.idx), zap.Int("bytes", len(r.body)), zap.Int("new_max", q.maxBatch))
		}
		delay = t.failedLocked(q, r.items, rt, o, &calls)
		if o.refresh {
			refreshed = t.requestRefreshLocked()
		}
	}
	var send func()
	if delay > 0 || refreshed != nil {
		t.waitThenLocked(q, delay, refreshed)
	} else {
		send = t.kickLocked(q)
	}
	t.mu.Unlock()
	for _, c := range calls {
		c()
	}
	if send != nil {
		send()
	}
}

// waitRefresh waits for the refresh that ch belongs to, at most
// BackoffMax (the meta may be down: then the old route is tried again).
func (t *Table) waitRefresh(ch chan struct{}) {
	tm := time.NewTimer(t.opts.BackoffMax)
	defer tm.Stop()
	select {
	case <-ch:
	case <-t.ctx.Done():
	case <-tm.C:
	}
}

// failedLocked books a failed attempt of items (one RPC's, in queue
// order), applies the failure policy and returns the backoff before the
// next attempt.
func (t *Table) failedLocked(q *queue, items []*item, rt route, o outcome, calls *[]func()) time.Duration {
	q.fails++
	q.failing.Fail(o.name)
	q.pc.retries.Add(1)
	t.countError(o.name)
	head := items[0]
	for _, it := range items {
		it.attempts++
		it.lastErr = o.err
	}
	if o.invalidate && q.idx < len(t.routes) && t.routes[q.idx].addr == rt.addr {
		t.routes[q.idx].addr = "" // C++ drops the partition's cached config (wire.md §5.3)
	}
	fields := []zap.Field{
		zap.Int("partition", q.idx), zap.String("primary", rt.addr),
		zap.Int("attempt", head.attempts), zap.Int("batches", len(items)), zap.Error(o.err),
	}
	if o.invalid {
		// Follower error 4: configuration problem on the follower (cluster
		// id not in its [duplication-group], self-duplication, unknown
		// task code, duplication.md §4.2). Loud on every occurrence.
		t.invalidArgument.Add(1)
		t.log.Error("follower rejected duplicate batch with InvalidArgument (error 4); "+
			"check the follower's [duplication-group] has the master's cluster id "+
			"and the follower is not the master itself", fields...)
		if f := t.opts.OnInvalidArgument; f != nil {
			idx, err := q.idx, o.err
			*calls = append(*calls, func() { f(idx, err) })
		}
	} else if head.attempts == 1 || head.attempts&(head.attempts-1) == 0 || head.attempts%64 == 0 {
		t.log.Warn("duplicate batch failed, will retry", fields...)
	}
	if pol := t.policy.Load(); pol.Policy == PolicySkip {
		// Attempts never grow along the queue (later items joined later
		// batches), so the items at MaxAttempts are a prefix.
		n := 0
		for n < len(items) && items[n].attempts >= pol.MaxAttempts {
			n++
		}
		for _, it := range items[:n] {
			t.log.Error("duplicate batch skipped after repeated failures (policy skip)",
				zap.Int("partition", q.idx), zap.Int("entries", it.s.Entries),
				zap.Int("bytes", len(it.s.Body)), zap.Int("attempts", it.attempts),
				zap.Int64("first_timestamp_us", it.s.FirstTimestamp),
				zap.Int64("last_timestamp_us", it.s.LastTimestamp),
				zap.Int64("first_decree", it.s.FirstDecree),
				zap.Int64("last_decree", it.s.LastDecree),
				zap.Error(it.lastErr))
		}
		if n > 0 {
			t.finishLocked(q, items[:n], Result{Status: StatusSkipped, Err: o.err}, calls)
			if len(q.items) > 0 {
				q.fails = 0
				return 0
			}
		}
	}
	return t.backoff(q.fails)
}

// backoff is BackoffMin·2^(fails-1) capped at BackoffMax, jittered into
// [d/2, d].
func (t *Table) backoff(fails int) time.Duration {
	d := t.opts.BackoffMax
	if fails < 31 {
		if b := t.opts.BackoffMin << (fails - 1); b > 0 && b < d {
			d = b
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// outcome classifies one attempt.
type outcome struct {
	err        error
	name       string // error counter name
	refresh    bool   // ask the meta for a fresh config
	invalidate bool   // forget the partition's primary until then
	invalid    bool   // follower error 4
}

// classifyRPC says, for an RPC-level error, whether the partition config
// is re-queried and whether the cached primary is dropped until then ("not
// the primary here"), as the C++ client does (wire.md §4.5, §5.3).
func classifyRPC(name string) (refresh, invalidate bool) {
	switch name {
	case codec.ErrorObjectNotFound, codec.ErrorInvalidState, codec.ErrorHandlerNotFound,
		codec.ErrorInactiveState:
		return true, true
	case codec.ErrorParentPartitionMisused, codec.ErrorSplitting, codec.ErrorTimeout,
		codec.ErrorNetworkFailure, codec.ErrorSessionReset, codec.ErrorAppNotExist,
		codec.ErrorChildNotReady:
		return true, false
	}
	return false, false
}

// attempt sends one RPC_RRDB_RRDB_DUPLICATE with the header a C++ client
// fills (wire.md §4.6); done gets the classified answer exactly once, on
// the goroutine that completes the call.
func (t *Table) attempt(idx int, appID int32, rt route, body []byte, hash uint64, done func(outcome)) {
	if rt.addr == "" {
		done(outcome{err: fmt.Errorf("%w: gpid %d.%d", ErrNoPrimary, appID, idx), name: "no_primary", refresh: true})
		return
	}
	req := &rpcclient.Request{
		RPCName:          codec.RPCDuplicate,
		AppID:            appID,
		PartitionIndex:   int32(idx),
		PartitionHash:    hash,
		ThreadHash:       appID*7919 + int32(idx),
		Timeout:          t.opts.RPCTimeout,
		ForwardSupported: true, // context 0x441, as the master's C++ client (wire.md §4.6)
		Body:             body,
	}
	classify := func(resp *rpcclient.Response, err error) { done(classifyAttempt(rt, appID, idx, resp, err)) }
	if at, ok := t.tr.(AsyncTransport); ok {
		if err := at.Go(t.ctx, rt.addr, req, classify); err != nil {
			classify(nil, err)
		}
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.RPCTimeout)
		defer cancel()
		classify(t.tr.Call(ctx, rt.addr, req))
	}()
}

// classifyAttempt turns an RPC's result into an outcome.
func classifyAttempt(rt route, appID int32, idx int, resp *rpcclient.Response, err error) outcome {
	if err != nil {
		name := "transport"
		if errors.Is(err, context.DeadlineExceeded) {
			name = codec.ErrorTimeout
		}
		return outcome{
			err:     fmt.Errorf("%w: duplicate to %s gpid %d.%d: %w", ErrTransport, rt.addr, appID, idx, err),
			name:    name,
			refresh: true,
		}
	}
	if !resp.OK() {
		refresh, inv := classifyRPC(resp.Err)
		return outcome{
			err:        &RPCError{Addr: rt.addr, Name: resp.Err, AppID: appID, Partition: idx},
			name:       resp.Err,
			refresh:    refresh,
			invalidate: inv,
		}
	}
	dr, err := mutation.ParseDupResponse(resp.Body)
	if err != nil {
		return outcome{
			err:  fmt.Errorf("%w: duplicate to %s gpid %d.%d: bad duplicate_response: %w", ErrRPC, rt.addr, appID, idx, err),
			name: "bad_response",
		}
	}
	if dr.Error != 0 {
		return outcome{
			err:     &FollowerError{Addr: rt.addr, AppID: appID, Partition: idx, Code: dr.Error, Hint: string(dr.ErrorHint)},
			name:    "rocksdb:" + rocksName(dr.Error),
			invalid: dr.Error == 4,
		}
	}
	return outcome{}
}

// requestRefreshLocked asks the refresher for a meta query (requests are
// coalesced) and returns a channel closed when the next query completes.
func (t *Table) requestRefreshLocked() chan struct{} {
	select {
	case t.refreshCh <- struct{}{}:
	default:
	}
	return t.refreshed
}
