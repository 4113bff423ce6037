package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/rpcclient"
)

// Policy is a table's failure policy.
type Policy uint8

const (
	// PolicySlow retries a failed batch forever: the master keeps its plog
	// and duplication lags (the default, and Pegasus's own behaviour,
	// duplication.md §3.7).
	PolicySlow Policy = iota
	// PolicySkip drops a batch after Options.MaxAttempts failed attempts,
	// logs and counts it, and reports StatusSkipped.
	PolicySkip
)

func (p Policy) String() string {
	switch p {
	case PolicySlow:
		return "slow"
	case PolicySkip:
		return "skip"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// ParsePolicy parses "slow" or "skip" (case-insensitive; "" is slow).
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "slow":
		return PolicySlow, nil
	case "skip":
		return PolicySkip, nil
	}
	return 0, fmt.Errorf("router: unknown failure policy %q (want slow or skip)", s)
}

// Options configure a Table. Only Table and either Metas or Meta are
// required.
type Options struct {
	// Metas are the follower meta servers ("host:port"); used when Meta
	// is nil.
	Metas []string
	// Table is the follower table name.
	Table string
	// Policy on repeated failures; MaxAttempts applies to PolicySkip
	// (default 10).
	Policy      Policy
	MaxAttempts int
	// Logger; nil means no logs.
	Logger *zap.Logger

	// RPCTimeout bounds one duplicate RPC and is sent as the header's
	// timeout_ms (default 10 s; Pegasus's master uses 100 s, wire.md §4.6,
	// but a shorter timeout recovers sooner from a silent follower).
	RPCTimeout time.Duration
	// BackoffMin and BackoffMax bound the retry delay of a partition:
	// BackoffMin·2ⁿ capped at BackoffMax, with jitter in [d/2, d]
	// (defaults 10 ms and 2 s; the C++ resolver uses 8 ms·2ⁿ capped at
	// 1 s, wire.md §5.3).
	BackoffMin, BackoffMax time.Duration
	// RefreshInterval is the least time between two meta queries
	// (default 100 ms); RefreshEvery re-queries the meta periodically
	// even without errors, to notice a follower split that no error
	// reveals (default 30 s; duplication.md §3.6).
	RefreshInterval, RefreshEvery time.Duration
	// MaxBatchBytes caps a coalesced RPC body (default 512 KiB, under the
	// follower's 1 MiB max_allowed_write_size, duplication.md §4.1); a
	// single larger shipment is still sent alone. Negative disables
	// coalescing.
	MaxBatchBytes int
	// Window is how many RPCs of one partition may be on the wire at once
	// (default 4). A shipment joins the wire only if none of its entries
	// shares a hash key with what is already there (doc.go "Order"), so a
	// retry can never overwrite a newer write of the same key.
	Window int
	// OnLayoutChange is called (from a router goroutine) after the
	// follower's effective partition count or app id changed and every
	// queued shipment was re-split; callers split later requests with
	// the new PartitionCount().
	OnLayoutChange func(oldCount, newCount int)
	// OnInvalidArgument, when set, is called (from a router goroutine,
	// outside the Table's lock) with every follower error 4
	// (InvalidArgument, *FollowerError). The router keeps retrying; a
	// caller that must stop, as a master aborts (wire.md §4.6), closes the
	// Table from here.
	OnInvalidArgument func(partition int, err error)

	// Meta and Transport replace the rpcclient implementations (tests,
	// shared pools). When nil, the Table creates and owns them.
	Meta      Meta
	Transport Transport
	// Client configures the rpcclient connections the Table creates.
	Client rpcclient.Options
}

func (o *Options) defaults() {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.RPCTimeout <= 0 {
		o.RPCTimeout = 10 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 10 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 2 * time.Second
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 100 * time.Millisecond
	}
	if o.RefreshEvery <= 0 {
		o.RefreshEvery = 30 * time.Second
	}
	if o.Window <= 0 {
		o.Window = 4
	}
	if o.MaxBatchBytes == 0 {
		o.MaxBatchBytes = 512 << 10
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
}

// route is where a partition's RPCs go.
type route struct {
	addr   string
	ballot int64
}

// Table ships duplicate requests to one follower table. All methods are
// safe for concurrent use.
type Table struct {
	opts   Options
	log    *zap.Logger
	meta   Meta
	tr     Transport
	owned  []func() error // closers of what New created
	ctx    context.Context
	cancel context.CancelFunc

	wg        sync.WaitGroup // backoff waits and the refresher
	watchDone chan struct{}
	closeOnce sync.Once
	refreshCh chan struct{}
	refreshed chan struct{} // closed when a meta query completes (under mu)

	// policy is Options.Policy and MaxAttempts, changeable by SetPolicy.
	policy atomic.Pointer[PolicyOptions]

	// Atomic mirrors for lock-free readers.
	countA      atomic.Int64
	appIDA      atomic.Int32
	queuedBytes atomic.Int64

	mu       sync.Mutex
	idle     *sync.Cond // signalled when inflight drops to 0
	closed   bool
	pausing  bool // a layout change waits for the RPCs on the wire
	inflight int
	appID    int32
	count    int
	routes   []route
	queues   []*queue
	parts    []*partCounters // by partition index, grows with the count
	// deferred are the queues ShipDeferred added to since the last Flush
	// (each once, queue.deferred); deferredAll: a deferred shipment was
	// re-split over several queues, Flush kicks them all.
	deferred    []*queue
	deferredAll bool
	logNext     map[string]time.Time
	// metaFailing is the meta's current run of failed refreshes.
	metaFailing FailureRun

	counters
}

// New resolves the follower table (one meta query, which must succeed)
// and starts its partition queues. The Table lives until Close or until
// ctx is cancelled.
func New(ctx context.Context, opts Options) (*Table, error) {
	opts.defaults()
	if opts.Table == "" {
		return nil, errors.New("router: New: empty table name")
	}
	t := &Table{
		opts:      opts,
		log:       opts.Logger.With(zap.String("table", opts.Table)),
		meta:      opts.Meta,
		tr:        opts.Transport,
		watchDone: make(chan struct{}),
		refreshCh: make(chan struct{}, 1),
		refreshed: make(chan struct{}),
		logNext:   make(map[string]time.Time),
	}
	t.idle = sync.NewCond(&t.mu)
	t.policy.Store(&PolicyOptions{Policy: opts.Policy, MaxAttempts: opts.MaxAttempts})
	if t.meta == nil {
		if len(opts.Metas) == 0 {
			return nil, errors.New("router: New: no follower meta addresses")
		}
		m, err := rpcclient.NewMeta(opts.Metas, rpcclient.MetaOptions{Options: opts.Client})
		if err != nil {
			return nil, fmt.Errorf("router: New: %w", err)
		}
		t.meta = m
		t.owned = append(t.owned, m.Close)
	}
	if t.tr == nil {
		p := rpcclient.NewPool(opts.Client)
		t.tr = PoolTransport{Pool: p}
		t.owned = append(t.owned, p.Close)
	}
	cfg, err := t.meta.QueryConfig(ctx, opts.Table, nil)
	if err == nil {
		err = t.applyInitial(cfg)
	}
	if err != nil {
		t.closeOwned()
		return nil, fmt.Errorf("router: open follower table %s: %w", opts.Table, err)
	}
	t.refreshes.Add(1)
	t.ctx, t.cancel = context.WithCancel(context.WithoutCancel(ctx))
	// Cancellation of ctx closes the Table.
	stop := context.AfterFunc(ctx, t.cancel)
	t.wg.Add(1)
	go t.refresher()
	go func() {
		<-t.ctx.Done()
		stop()
		t.shutdown()
		close(t.watchDone)
	}()
	t.log.Info("follower table opened",
		zap.Int32("app_id", t.appID), zap.Int("partitions", t.count),
		zap.Stringer("policy", opts.Policy))
	return t, nil
}

// PolicyOptions are a failure policy and, for PolicySkip, the failed
// attempts before a shipment is dropped.
type PolicyOptions struct {
	Policy      Policy
	MaxAttempts int
}

// SetPolicy changes the failure policy from the next failed attempt on
// (maxAttempts <= 0 keeps the current count). Shipments already past the
// new MaxAttempts are dropped at their next failure, not at once. Any
// goroutine.
func (t *Table) SetPolicy(p Policy, maxAttempts int) {
	if maxAttempts <= 0 {
		maxAttempts = t.policy.Load().MaxAttempts
	}
	t.policy.Store(&PolicyOptions{Policy: p, MaxAttempts: maxAttempts})
	t.log.Info("failure policy changed", zap.Stringer("policy", p), zap.Int("max_attempts", maxAttempts))
}

// Policy is the current failure policy. Any goroutine.
func (t *Table) Policy() PolicyOptions { return *t.policy.Load() }

// PartitionCount is the follower's effective partition count: split
// entries with it (mutation.PartitionIndex(hash, PartitionCount())).
func (t *Table) PartitionCount() int { return int(t.countA.Load()) }

// AppID is the follower table's app id (the gpid app_id of every RPC).
func (t *Table) AppID() int32 { return t.appIDA.Load() }

// QueuedBytesTotal is the body bytes of all shipments not yet done.
func (t *Table) QueuedBytesTotal() int64 { return t.queuedBytes.Load() }

// QueuedBytes is the body bytes of partition's shipments not yet done (0
// for an index out of range).
func (t *Table) QueuedBytes(partition int) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if partition < 0 || partition >= len(t.queues) {
		return 0
	}
	return t.queues[partition].bytes
}

// Ship queues s for follower partition (an index for s.PartitionCount, or
// the current count when that is 0). It never blocks on the network and
// may be called from any goroutine; shipments for one partition are
// applied in the order of the Ship calls. done is called exactly once,
// from a router goroutine (or from Close's caller at shutdown), and must
// not block. The router owns s until then.
func (t *Table) Ship(partition int, s *Shipment, done func(Result)) {
	t.ship(partition, s, done, true)
}

// ShipDeferred queues s like Ship but does not start sending: the next
// Flush (or any later Ship, or the completion of an RPC of that partition)
// does. A caller that receives several requests at once ships them all
// deferred, then flushes once, so that the shipments of one partition
// leave coalesced in one RPC instead of one RPC each.
func (t *Table) ShipDeferred(partition int, s *Shipment, done func(Result)) {
	t.ship(partition, s, done, false)
}

// Flush starts sending every partition that has shipments queued and
// nothing on the wire. Any goroutine; it does not block on the network
// (a send may dial). Only the partitions ShipDeferred queued to are
// looked at: any other queue with shipments is already sending or waits
// for an event that kicks it (a completion, a backoff, a layout change).
func (t *Table) Flush() {
	t.mu.Lock()
	var sends []func()
	if t.deferredAll {
		sends = t.kickAllLocked()
	} else {
		for _, q := range t.deferred {
			if s := t.kickLocked(q); s != nil {
				sends = append(sends, s)
			}
		}
	}
	for _, q := range t.deferred {
		q.deferred = false
	}
	clear(t.deferred)
	t.deferred, t.deferredAll = t.deferred[:0], false
	t.mu.Unlock()
	for _, s := range sends {
		s()
	}
}

func (t *Table) ship(partition int, s *Shipment, done func(Result), kick bool) {
	if done == nil {
		done = func(Result) {}
	}
	it := &item{s: s, done: done, start: time.Now()}
	if s == nil || len(s.Body) == 0 {
		go done(Result{Status: StatusRejected, Err: fmt.Errorf("%w: empty shipment", ErrBadShipment)})
		return
	}
	it.size = int64(len(s.Body))
	wf, hashes := true, s.Hashes
	if len(s.Hashes) != s.Entries || s.Entries == 0 {
		// No trusted hashes: walk the body once, outside the lock.
		wf, hashes = inspect(s.Body)
	}
	it.canon = t.opts.MaxBatchBytes >= 0 && wf
	it.hashes = hashes
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		go done(Result{Status: StatusClosed, Err: ErrClosed})
		return
	}
	count := s.PartitionCount
	if count == 0 {
		count = t.count
	}
	if partition < 0 || partition >= count {
		t.mu.Unlock()
		go done(Result{Status: StatusRejected,
			Err: fmt.Errorf("%w: partition %d out of range [0,%d)", ErrBadShipment, partition, count)})
		return
	}
	t.queuedBytes.Add(it.size)
	var sends []func()
	if count != t.count {
		// Split for another layout: re-split by entry (doc.go).
		t.placeLocked(it, t.queues, t.count)
		if kick {
			sends = t.kickAllLocked()
		} else {
			t.deferredAll = true
		}
	} else {
		q := t.queues[partition]
		t.enqueueLocked(q, it)
		switch {
		case kick:
			if s := t.kickLocked(q); s != nil {
				sends = append(sends, s)
			}
		case !q.deferred:
			q.deferred = true
			t.deferred = append(t.deferred, q)
		}
	}
	t.mu.Unlock()
	for _, s := range sends {
		s()
	}
}

// Close stops the Table: RPCs on the wire are abandoned, and every
// shipment not yet done gets StatusClosed (it may or may not have been
// applied). It waits for the router's goroutines and is idempotent.
func (t *Table) Close() error {
	t.cancel()
	<-t.watchDone
	return nil
}

// shutdown runs once, from the ctx watcher.
func (t *Table) shutdown() {
	t.mu.Lock()
	t.closed = true
	t.idle.Broadcast()
	// RPCs on the wire end with the cancelled context; wait for their
	// completions before reporting what is left.
	for t.inflight > 0 {
		t.idle.Wait()
	}
	t.mu.Unlock()
	t.wg.Wait()
	var calls []func()
	t.mu.Lock()
	for _, q := range t.queues {
		t.finishLocked(q, q.items, Result{Status: StatusClosed, Err: ErrClosed}, &calls)
	}
	t.mu.Unlock()
	for _, c := range calls {
		c()
	}
	t.closeOwned()
	t.log.Info("follower table closed")
}

func (t *Table) closeOwned() {
	for _, c := range t.owned {
		_ = c()
	}
	t.owned = nil
}

// Stats returns a snapshot of the counters.
func (t *Table) Stats() Stats {
	st := Stats{
		Table:           t.opts.Table,
		Refreshes:       t.refreshes.Load(),
		RefreshFailures: t.refreshFailures.Load(),
		LayoutChanges:   t.layoutChanges.Load(),
		Resplit:         t.resplit.Load(),
		ResplitFallback: t.resplitFallback.Load(),
		InvalidArgument: t.invalidArgument.Load(),
		Errors:          t.errorsSnapshot(),
		RPCLatency:      t.rpcLatency.snapshot(),
		AckLatency:      t.ackLatency.snapshot(),
	}
	t.mu.Lock()
	st.AppID = t.appID
	st.PartitionCount = t.count
	st.Partitions = make([]PartitionStats, len(t.parts))
	for i, pc := range t.parts {
		p := &st.Partitions[i]
		p.ShippedBatches = pc.shippedBatches.Load()
		p.ShippedEntries = pc.shippedEntries.Load()
		p.ShippedBytes = pc.shippedBytes.Load()
		p.RPCs = pc.rpcs.Load()
		p.Retries = pc.retries.Load()
		p.SkippedBatches = pc.skippedBatches.Load()
		p.SkippedEntries = pc.skippedEntries.Load()
		p.LastAckedTimestamp = pc.lastAcked.Load()
		if i < len(t.queues) {
			q := t.queues[i]
			p.LastError = q.failing.Last // empty once an attempt succeeds
			p.Queued = len(q.items)
			p.QueuedBytes = q.bytes
			p.InFlight = q.onWire > 0
		}
		st.ShippedBatches += p.ShippedBatches
		st.ShippedEntries += p.ShippedEntries
		st.ShippedBytes += p.ShippedBytes
		st.Retries += p.Retries
		st.SkippedBatches += p.SkippedBatches
		st.SkippedEntries += p.SkippedEntries
		st.Queued += p.Queued
		st.QueuedBytes += p.QueuedBytes
		if p.InFlight {
			st.InFlight++
		}
	}
	t.mu.Unlock()
	return st
}

// FailureRun is a run of failures not yet ended by a success. The zero
// value is "not failing". Callers serialise access.
type FailureRun struct {
	// Since is when the run began; zero when nothing is failing.
	Since time.Time
	// Last names the latest failure ("transport", "ERR_BUSY",
	// "meta:transport", ...).
	Last string
}

// Fail books a failure named name.
func (r *FailureRun) Fail(name string) {
	if r.Since.IsZero() {
		r.Since = time.Now()
	}
	r.Last = name
}

// Succeed ends the run.
func (r *FailureRun) Succeed() { *r = FailureRun{} }

// Health is whether a table's follower answers: the oldest run of failures
// among the partitions' RPCs and the meta's refreshes.
type Health struct {
	FailureRun
	// Partition is the failing partition, or -1 for the meta.
	Partition int
}

// Health reports the follower's reachability. Any goroutine.
func (t *Table) Health() Health {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := Health{FailureRun: t.metaFailing, Partition: -1}
	for _, q := range t.queues {
		if f := q.failing; !f.Since.IsZero() && (h.Since.IsZero() || f.Since.Before(h.Since)) {
			h = Health{FailureRun: f, Partition: q.idx}
		}
	}
	return h
}

// logSampled reports whether a log line under key may be written now (at
// most one per d), so that a dead follower does not flood the log.
func (t *Table) logSampled(key string, d time.Duration) bool {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.logNext[key]) {
		return false
	}
	t.logNext[key] = now.Add(d)
	return true
}
