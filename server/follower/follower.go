// Package follower adapts the router (one router.Table per configured
// table) and rpcclient's meta clients to what the server needs:
// server.Shipper, server.TableCreator and server.CheckpointLoader. It opens
// the follower tables in the background, creating them first where the
// configuration asks for it ([table.*] follower_partition_count), and
// retries until they open. A checkpoint load (full duplication) fetches the
// master's checkpoint and loads it through the table's own router, so its
// shipments queue in order with the table's incremental ones.
package follower

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/checkpoint"
	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/router"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/server"
)

// errStopOpening ends the attempts to open a table: the Set is closed or a
// reload removed the table.
var errStopOpening = errors.New("follower: set closed or table removed")

// ErrNotOpen is the result of a part shipped for a table whose follower
// table is not open yet (the server normally refuses such requests first).
var ErrNotOpen = errors.New("follower: table not open")

// Options configure a Set.
type Options struct {
	// Logger; zap.NewNop() when nil.
	Logger *zap.Logger
	// ReplicaCount of tables created on the follower (default 3, Pegasus's).
	ReplicaCount int32
	// RetryMin and RetryMax bound the backoff between attempts to open a
	// table (defaults 500 ms and 30 s).
	RetryMin, RetryMax time.Duration
	// Router is the template of every table's router options (Metas,
	// Table, Policy, MaxAttempts, Logger and Meta are filled in per table).
	Router router.Options
	// Client configures the meta connections, and those to a master's
	// meta and replica servers during a checkpoint load.
	Client rpcclient.Options
	// OpenCheckpoint reads a staged checkpoint partition for full
	// duplication (the SST reader); nil refuses checkpoint loads.
	OpenCheckpoint checkpoint.Opener
	// Fetch and Load are the templates of a checkpoint load's options
	// (limits); the rest is filled in per job.
	Fetch checkpoint.FetchOptions
	Load  checkpoint.LoadOptions
}

// Set is the follower side of every configured table. All methods are safe
// for concurrent use; PartitionCount and Ship never block.
type Set struct {
	cfg   *config.Config
	opts  Options
	log   *zap.Logger
	metas map[string]*rpcclient.Meta // by follower cluster
	// tables is every configured table by name; Reconfigure swaps in a
	// new map (copy-on-write).
	tables atomic.Pointer[map[string]*entry]

	wg      sync.WaitGroup
	mu      sync.Mutex
	closed  bool
	openCtx context.Context // Open's, for tables a reload adds
}

type entry struct {
	t  *config.Table
	rt atomic.Pointer[router.Table]

	mu sync.Mutex // guards openFailing and failMode
	// openFailing is the run of failed attempts to open the follower table.
	openFailing router.FailureRun
	// dropped: a reload removed the table (guarded by Set.mu).
	dropped bool
	// failMode, when set, overrides the configured failure policy
	// (SetFailMode); a router opened later starts with it.
	failMode *router.PolicyOptions
	// kick cuts the open loop's backoff short (EnsureTable made the table).
	kick chan struct{}
}

var (
	_ server.Shipper          = (*Set)(nil)
	_ server.TableCreator     = (*Set)(nil)
	_ server.FollowerHealth   = (*Set)(nil)
	_ server.FailModeSetter   = (*Set)(nil)
	_ server.FollowerReporter = (*Set)(nil)
	_ server.CheckpointLoader = (*Set)(nil)
	_ server.ReadForwarder    = (*Set)(nil)
)

// New builds the Set; Open starts opening the tables.
func New(cfg *config.Config, opts Options) (*Set, error) {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.ReplicaCount <= 0 {
		opts.ReplicaCount = 3
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 500 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 30 * time.Second
	}
	s := &Set{cfg: cfg, opts: opts, log: opts.Logger, metas: map[string]*rpcclient.Meta{}}
	for name, addrs := range cfg.Clusters {
		m, err := rpcclient.NewMeta(addrs, rpcclient.MetaOptions{Options: opts.Client})
		if err != nil {
			s.closeMetas()
			return nil, fmt.Errorf("follower: meta client of cluster %s: %w", name, err)
		}
		s.metas[name] = m
	}
	tables := map[string]*entry{}
	for i := range cfg.Tables {
		tables[cfg.Tables[i].Name] = &entry{t: &cfg.Tables[i], kick: make(chan struct{}, 1)}
	}
	s.tables.Store(&tables)
	return s, nil
}

// Open starts one goroutine per table that creates the follower table if
// configured and opens its router, retrying with backoff until it succeeds
// or ctx ends. The router tables live until Close.
func (s *Set) Open(ctx context.Context) {
	s.mu.Lock()
	s.openCtx = ctx
	s.mu.Unlock()
	for _, e := range s.entries() {
		s.startOpen(ctx, e)
	}
}

func (s *Set) startOpen(ctx context.Context, e *entry) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.open(ctx, e)
	}()
}

// entries is the current table map. Any goroutine.
func (s *Set) entries() map[string]*entry { return *s.tables.Load() }

// Reconfigure applies a reloaded configuration's tables (server.Reload
// checked that nothing else changed): added tables start opening, removed
// ones have their routers closed (their shipments not yet acknowledged end
// as failed, so their masters resend), kept ones stay as they are (their
// fail mode comes through SetFailMode). It returns what changed.
func (s *Set) Reconfigure(ctx context.Context, cfg *config.Config) []string {
	old := s.entries()
	next := make(map[string]*entry, len(cfg.Tables))
	var added []*entry
	for i := range cfg.Tables {
		t := &cfg.Tables[i]
		if e := old[t.Name]; e != nil {
			next[t.Name] = e
			continue
		}
		e := &entry{t: t, kick: make(chan struct{}, 1)}
		next[t.Name] = e
		added = append(added, e)
	}
	s.mu.Lock()
	s.tables.Store(&next)
	var gone []*entry
	for name, e := range old {
		if next[name] == nil {
			e.dropped = true
			gone = append(gone, e)
		}
	}
	closed := s.closed
	if s.openCtx != nil {
		ctx = s.openCtx // the tables live as long as Open's do
	}
	s.mu.Unlock()
	var changes []string
	if !closed {
		for _, e := range added {
			s.startOpen(ctx, e)
			changes = append(changes, "follower table "+e.t.FollowerCluster+"/"+e.t.FollowerTable+" opening for table "+e.t.Name)
		}
	}
	for _, e := range gone {
		if rt := e.rt.Load(); rt != nil {
			_ = rt.Close()
		}
		changes = append(changes, "router of table "+e.t.Name+" closed")
	}
	return changes
}

func (s *Set) open(ctx context.Context, e *entry) {
	delay := s.opts.RetryMin
	log := s.log.With(zap.String("table", e.t.Name), zap.String("follower_cluster", e.t.FollowerCluster),
		zap.String("follower_table", e.t.FollowerTable))
	for attempt := 1; ; attempt++ {
		err := s.openOnce(ctx, e)
		e.noteOpen(err)
		if err == nil {
			log.Info("follower table open", zap.Int("partitions", e.rt.Load().PartitionCount()))
			return
		}
		if ctx.Err() != nil || errors.Is(err, errStopOpening) {
			return
		}
		log.Warn("opening follower table failed; masters get a retryable error meanwhile",
			zap.Int("attempt", attempt), zap.Duration("retry_in", delay), zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		case <-e.kick:
		}
		delay = min(delay*2, s.opts.RetryMax)
	}
}

// noteOpen books an open attempt's outcome for FollowerFailing.
func (e *entry) noteOpen(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		e.openFailing.Succeed()
		return
	}
	e.openFailing.Fail("opening the follower table: " + err.Error())
}

// FollowerFailing implements server.FollowerHealth: before the follower
// table is open, since the first failed attempt to open it; then the
// router's Health.
func (s *Set) FollowerFailing(table string) (time.Time, string) {
	e := s.entries()[table]
	if e == nil {
		return time.Time{}, ""
	}
	if rt := e.rt.Load(); rt != nil {
		h := rt.Health()
		if h.Since.IsZero() || h.Partition < 0 {
			return h.Since, h.Last
		}
		return h.Since, fmt.Sprintf("partition %d: %s", h.Partition, h.Last)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.openFailing.Since, e.openFailing.Last
}

func (s *Set) openOnce(ctx context.Context, e *entry) error {
	if e.t.FollowerPartitionCount > 0 {
		if _, err := s.create(ctx, e.t, e.t.FollowerPartitionCount); err != nil {
			return err
		}
	}
	ro := s.opts.Router
	ro.Table = e.t.FollowerTable
	ro.Meta = s.metas[e.t.FollowerCluster]
	ro.Metas = s.cfg.Clusters[e.t.FollowerCluster]
	ro.Logger = s.log
	ro.Policy = router.PolicySlow
	if e.t.FailurePolicy == config.PolicySkip {
		ro.Policy = router.PolicySkip
		ro.MaxAttempts = e.t.SkipAfterAttempts
	}
	e.mu.Lock()
	if fm := e.failMode; fm != nil {
		ro.Policy, ro.MaxAttempts = fm.Policy, fm.MaxAttempts
	}
	e.mu.Unlock()
	// The router lives until Close, not until ctx: the server drains
	// in-flight requests after ctx is cancelled and needs their acks.
	rt, err := router.New(context.WithoutCancel(ctx), ro)
	if err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed || e.dropped
	if !closed {
		e.rt.Store(rt)
	}
	s.mu.Unlock()
	if closed {
		_ = rt.Close()
		return errStopOpening
	}
	// A SetFailMode that ran while the router was being made may have
	// missed it: apply what it left (twice is harmless).
	e.mu.Lock()
	fm := e.failMode
	e.mu.Unlock()
	if fm != nil {
		rt.SetPolicy(fm.Policy, fm.MaxAttempts)
	}
	return nil
}

// create makes the follower table with count partitions unless it exists
// (ERR_APP_EXIST is success) and returns the follower's partition count.
func (s *Set) create(ctx context.Context, t *config.Table, count int) (int, error) {
	m := s.metas[t.FollowerCluster]
	if m == nil {
		return 0, fmt.Errorf("follower: no meta client for cluster %s", t.FollowerCluster)
	}
	if cfg, err := m.QueryConfig(ctx, t.FollowerTable, nil); err == nil {
		return int(cfg.PartitionCount), nil
	}
	_, err := m.CreateApp(ctx, t.FollowerTable, rpcclient.CreateAppOptions{PartitionCount: int32(count), ReplicaCount: s.opts.ReplicaCount})
	if err != nil && rpcclient.ErrName(err) != codec.ErrorAppExist {
		return 0, fmt.Errorf("follower: creating table %s on %s: %w", t.FollowerTable, t.FollowerCluster, err)
	}
	if err == nil {
		s.log.Info("created follower table", zap.String("cluster", t.FollowerCluster),
			zap.String("table", t.FollowerTable), zap.Int("partitions", count))
	}
	// The meta replies once the table exists, before its replicas are
	// ready (duplication.md §1.6 step 6): the router's open retries.
	cfg, err := m.QueryConfig(ctx, t.FollowerTable, nil)
	if err != nil {
		return 0, fmt.Errorf("follower: table %s on %s after create: %w", t.FollowerTable, t.FollowerCluster, err)
	}
	return int(cfg.PartitionCount), nil
}

// EnsureTable implements server.TableCreator.
func (s *Set) EnsureTable(ctx context.Context, t *config.Table, partitionCount int) (int, error) {
	n, err := s.create(ctx, t, partitionCount)
	if e := s.entries()[t.Name]; err == nil && e != nil {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
	return n, err
}

// PartitionCount implements server.Shipper: 0 until the table is open.
func (s *Set) PartitionCount(table string) int {
	e := s.entries()[table]
	if e == nil {
		return 0
	}
	rt := e.rt.Load()
	if rt == nil {
		return 0
	}
	return rt.PartitionCount()
}

// Ship implements server.Shipper.
func (s *Set) Ship(p *server.Part, done func(server.PartResult)) { s.ship(p, done, false) }

// ShipDeferred implements server.DeferredShipper: p is queued, and sent at
// the next Flush (router.Table.ShipDeferred).
func (s *Set) ShipDeferred(p *server.Part, done func(server.PartResult)) { s.ship(p, done, true) }

// Flush implements server.DeferredShipper: every open table starts sending
// what is queued.
func (s *Set) Flush() {
	for _, e := range s.entries() {
		if rt := e.rt.Load(); rt != nil {
			rt.Flush()
		}
	}
}

func (s *Set) ship(p *server.Part, done func(server.PartResult), deferred bool) {
	e := s.entries()[p.Table]
	var rt *router.Table
	if e != nil {
		rt = e.rt.Load()
	}
	if rt == nil {
		go done(server.PartResult{Status: server.PartFailed, Err: ErrNotOpen})
		return
	}
	sh := &router.Shipment{
		Body: p.Body, PartitionHash: p.PartitionHash, Entries: p.Entries, PartitionCount: p.PartitionCount,
		FirstTimestamp: p.FirstTimestamp, LastTimestamp: p.LastTimestamp, Hashes: p.Hashes,
	}
	cb := func(r router.Result) {
		switch r.Status {
		case router.StatusOK:
			done(server.PartResult{Status: server.PartAcked})
		case router.StatusSkipped:
			done(server.PartResult{Status: server.PartSkipped, Err: r.Err})
		default:
			done(server.PartResult{Status: server.PartFailed, Err: fmt.Errorf("%s: %w", r.Status, r.Err)})
		}
	}
	if deferred {
		rt.ShipDeferred(p.PartitionIndex, sh, cb)
	} else {
		rt.Ship(p.PartitionIndex, sh, cb)
	}
}

// Wire fills the follower side of a bridge's options: o ships and creates
// tables through the Set, reports its router statistics in /status and
// exports its metrics. `dupbridge serve` and localcluster wire a bridge the
// same way through it.
func (s *Set) Wire(o *server.Options) {
	o.Shipper, o.Creator, o.Loader = s, s, s
	o.FollowerStatus = func() any { return s.Stats() }
	o.Collectors = append(o.Collectors, s.Collector())
}

// Router returns the router of a table once it is open (for status).
func (s *Set) Router(table string) *router.Table {
	if e := s.entries()[table]; e != nil {
		return e.rt.Load()
	}
	return nil
}

// Stats returns the statistics of every open router, by table name (for
// /status).
func (s *Set) Stats() map[string]router.Stats {
	out := make(map[string]router.Stats, len(s.entries()))
	for name, e := range s.entries() {
		if rt := e.rt.Load(); rt != nil {
			out[name] = rt.Stats()
		}
	}
	return out
}

// SetFailMode implements server.FailModeSetter: the table's router (now,
// or when it opens) drops a part after skipAfterAttempts failed attempts
// under PolicySkip, or retries forever under PolicySlow.
func (s *Set) SetFailMode(table string, p config.FailurePolicy, skipAfterAttempts int) {
	e := s.entries()[table]
	if e == nil {
		return
	}
	fm := &router.PolicyOptions{Policy: router.PolicySlow}
	if p == config.PolicySkip {
		fm = &router.PolicyOptions{Policy: router.PolicySkip, MaxAttempts: skipAfterAttempts}
	}
	e.mu.Lock()
	e.failMode = fm
	e.mu.Unlock()
	if rt := e.rt.Load(); rt != nil {
		rt.SetPolicy(fm.Policy, fm.MaxAttempts)
	}
}

// FollowerPartitions implements server.FollowerReporter from the router's
// statistics (nil until the follower table is open).
func (s *Set) FollowerPartitions(table string) []server.FollowerPartition {
	e := s.entries()[table]
	if e == nil {
		return nil
	}
	rt := e.rt.Load()
	if rt == nil {
		return nil
	}
	st := rt.Stats()
	out := make([]server.FollowerPartition, 0, st.PartitionCount)
	for i, p := range st.Partitions {
		if i >= st.PartitionCount {
			break // counters kept from a layout before a merge
		}
		out = append(out, server.FollowerPartition{
			Partition: i, LastAckedTimestampUs: p.LastAckedTimestamp, InFlight: p.InFlight,
			Queued: p.Queued, QueuedBytes: p.QueuedBytes, ShippedEntries: p.ShippedEntries,
			Retries: p.Retries, SkippedEntries: p.SkippedEntries, LastError: p.LastError,
		})
	}
	return out
}

// Close closes every router (shipments not yet acknowledged end as
// failed) and meta client. Cancel Open's ctx first so that no table is
// still opening.
func (s *Set) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	for _, e := range s.entries() {
		if rt := e.rt.Load(); rt != nil {
			_ = rt.Close()
		}
	}
	s.closeMetas()
	return nil
}

func (s *Set) closeMetas() {
	for _, m := range s.metas {
		_ = m.Close()
	}
}

// Collector returns the Prometheus collector of the follower side, for
// server.Options.Collectors: the routers' dupbridge_router_* metrics and,
// per configured table, Pegasus's master-side duplication metrics for what
// the bridge ships to the follower (duplication.md §6.1). The table label is
// the configured table name (the name masters use), as in the server's
// metrics. Tables not open yet report zero.
func (s *Set) Collector() prometheus.Collector { return setCollector{s: s} }

type setCollector struct{ s *Set }

// Describe implements prometheus.Collector: unchecked, like
// router.Collector (the router's label sets depend on the layouts).
func (setCollector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c setCollector) Collect(ch chan<- prometheus.Metric) {
	tl := []string{"table"}
	var (
		okReqs = prometheus.NewDesc("dup_shipped_successful_requests",
			"Duplicate RPCs to the follower acknowledged OK; mirrors the Pegasus master metric dup_shipped_successful_requests.", tl, nil)
		failReqs = prometheus.NewDesc("dup_shipped_failed_requests",
			"Failed duplicate RPC attempts to the follower, each retry counted; mirrors the Pegasus master metric dup_shipped_failed_requests.", tl, nil)
		bytes = prometheus.NewDesc("dup_shipped_bytes",
			"Body bytes of duplicate requests acknowledged by the follower; mirrors the Pegasus master metric dup_shipped_bytes (which also counts headers).", tl, nil)
	)
	var open []*router.Table
	names := make(map[*router.Table]string, len(c.s.entries()))
	for name, e := range c.s.entries() {
		var rpcs, retries, shipped uint64
		if rt := e.rt.Load(); rt != nil {
			open = append(open, rt)
			names[rt] = name
			st := rt.Stats()
			for _, p := range st.Partitions {
				rpcs += p.RPCs
				retries += p.Retries
				shipped += p.ShippedBytes
			}
		}
		ch <- prometheus.MustNewConstMetric(okReqs, prometheus.CounterValue, float64(rpcs), name)
		ch <- prometheus.MustNewConstMetric(failReqs, prometheus.CounterValue, float64(retries), name)
		ch <- prometheus.MustNewConstMetric(bytes, prometheus.CounterValue, float64(shipped), name)
	}
	router.Collector{
		Tables: func() []*router.Table { return open },
		Label:  func(t *router.Table) string { return names[t] },
	}.Collect(ch)
}

// ForwardRead implements server.ReadForwarder: req goes to follower
// partition pidx of table's follower table (router.Table.Read).
func (s *Set) ForwardRead(table string, pidx int, req *rpcclient.Request, cb func(*rpcclient.Response, error)) {
	var rt *router.Table
	if e := s.entries()[table]; e != nil {
		rt = e.rt.Load()
	}
	if rt == nil {
		cb(nil, fmt.Errorf("%w: %s", ErrNotOpen, table))
		return
	}
	rt.Read(pidx, req, cb)
}
