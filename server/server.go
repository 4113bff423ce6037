package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/ctlstate"
	"github.com/dupbridge/dupbridge/keyorder"
)

// Options configure a Server.
type Options struct {
	// Config is the validated configuration (required).
	Config *config.Config
	// Shipper ships parts to the follower (required).
	Shipper Shipper
	// Creator creates follower tables for create_app; nil answers
	// create_app with ERR_OPERATION_DISABLED.
	Creator TableCreator
	// Loader copies a master's checkpoint into a follower table for a
	// full duplication (full_duplication = load); nil uses Creator when
	// it is a CheckpointLoader too, else such requests are refused.
	Loader CheckpointLoader
	// Logger; zap.NewNop() when nil.
	Logger *zap.Logger
	// Listen overrides Config.Bridge.Listen (tests use 127.0.0.1:0).
	Listen string
	// HTTPListen overrides Config.Bridge.HTTPListen; "-" disables HTTP.
	HTTPListen string
	// WriteLimit is the largest duplicate_request body sent to the
	// follower; config.FollowerWriteLimit (1 MiB, duplication.md §4.1) when 0.
	WriteLimit int
	// Ballot is the ballot of every advertised partition; 0 means the start
	// time in seconds, which grows across restarts so that a master's
	// resolver takes a changed primary (duplication.md §9 item 1).
	Ballot int64
	// FollowerStatus, when set, adds its result to /status under
	// "follower" (e.g. the routers' statistics). Called from HTTP
	// handlers; it must be safe for concurrent use.
	FollowerStatus func() any
	// MaxOutbound is the outbound bytes buffered on one connection above
	// which the server stops decoding its requests (a master that does not
	// read its replies); 4 MiB when 0.
	MaxOutbound int
	// MaxConnectionBytes overrides Config.Bridge.MaxConnectionBytes (the
	// per-connection budget) when > 0.
	MaxConnectionBytes int64
	// WaitRoom caps the undecoded bytes of all connections together
	// (budget.go); WaitRoom when 0. Tests lower it.
	WaitRoom int64
	// Listener, when set, is used instead of listening on Listen (tests
	// wrap one to inject accept errors). Run closes it.
	Listener net.Listener
	// LogLevel, when set, is the process's log level, changeable through
	// POST /log-level (dupbridge ctl log-level).
	LogLevel *zap.AtomicLevel
	// Reload, when set, serves POST /reload (dupbridge ctl reload).
	Reload Reloader
	// StateDir overrides Config.Bridge.StateDir (where table controls are
	// persisted, ctlstate).
	StateDir string
	// Collectors are registered on the Server's Prometheus registry next
	// to its own metrics (e.g. the follower side's, server/follower). New
	// fails if one cannot be registered.
	Collectors []prometheus.Collector
	// Guards are the per-key order guards to use, by table name (an edge
	// passes the ones it rebuilt from its spool, docs/relay.md §1.6); a
	// table without one gets a new, empty guard.
	Guards map[string]*keyorder.Guard
	// Face, when set, is asked first for every request (face.go). With a
	// Face and no Shipper (a meta-proxy alone), the Face must answer every
	// request.
	Face Face
	// ExtraStatus, when set, adds its result to /status under "meta_proxy"
	// (a meta-proxy beside the bridge). Any goroutine.
	ExtraStatus func() any
}

// Server is the bridge's RPC endpoint: a gnet event handler serving the meta
// face and the replica face on one port (design.md steps 1, 2 and 6).
//
// Concurrency contract: New, Run and the exported getters may be called from
// any goroutine. The gnet callbacks (OnOpen, OnClose, OnTraffic,
// OnTick, OnShutdown) are called by gnet only: OnTraffic, OnOpen and OnClose
// of one connection run on that connection's event loop, different loops run
// concurrently, so per-connection state is touched only on its loop, and
// shared state is atomic or behind a mutex.
type Server struct {
	gnet.BuiltinEventEngine

	cfg     *config.Config
	opts    Options
	log     *zap.Logger
	shipper Shipper

	// tables is the configured tables; a reload swaps in a new set
	// (copy-on-write), so a reader keeps a consistent one.
	tables atomic.Pointer[tableSet]

	from     uint64 // advertised rpc_address (wire.md §1.5)
	ballot   int64  // advertised ballot: start time in seconds, so that it grows across restarts
	startSec int64

	maxInflight atomic.Int64 // max_inflight_bytes (reloadable)
	maxConn     int64        // per-connection budget (budget.go)
	waitRoom    int64        // cap of Server.waiting (budget.go)
	asmMin      int          // frames above it are assembled in connState.asm: asmThreshold (the fuzz target lowers it)
	inflight    atomic.Int64 // admitted requests and unread replies (budget.go)
	waiting     atomic.Int64 // undecoded inbound bytes (budget.go)
	stats       counters
	gate        *gate
	refusedLog  [numReasons]atomic.Int64 // UnixNano of the last log line per reason
	bigFreed    atomic.Int64             // large-frame buffer bytes dropped since memory was last returned
	freeing     atomic.Bool
	lastSweep   time.Time // OnTick only
	lastTick    atomic.Int64

	reg     *prometheus.Registry // served at /metrics
	metrics *serverMetrics
	lagUs   atomic.Int64 // lagging_write_threshold in µs (reloadable)
	// live is the [dupbridge] section now: a reload swaps in the new
	// one; keys that need a restart stay as in cfg.
	live atomic.Pointer[config.Bridge]

	draining atomic.Bool

	mu      sync.Mutex
	blocked map[*connState]struct{} // connections that stopped decoding at the cap
	conns   map[*connState]struct{}

	addr  net.Addr
	ready chan struct{}

	runCtx context.Context // set by Run; parent of create_app calls

	stateDir string         // config state_dir, or Options.StateDir
	ctlMu    sync.Mutex     // serialises control calls and their persistence
	ctl      ctlstate.State // persisted controls, as on disk (guarded by ctlMu)

	reloadMu sync.Mutex     // one reload at a time
	current  *config.Config // the configuration applied last (guarded by reloadMu)
	jobs     sync.WaitGroup // checkpoint load jobs (fullcopy.go)
}

// tableState is the run-time state of one configured table.
type tableState struct {
	cfg     *config.Table
	paused  atomic.Bool
	removed atomic.Bool              // ctl remove: every request refused (control.go)
	fail    atomic.Pointer[failMode] // failure policy now (ctl fail-mode)
	// confFail is the configured failure policy (guarded by
	// Server.ctlMu; a reload changes it).
	confFail failMode
	m        *tableMetrics // set by bindTableMetrics
	// collectors are the table's own registered collectors (bindTableMetrics).
	collectors []prometheus.Collector
	allowed    [128]bool // cluster ids accepted in entries (config.Config.Allows)
	// inflightEntries: entries shipped and not yet answered to the master;
	// lastAckedUs: newest master timestamp (µs) acknowledged to a master
	// after its entries were applied. /status reports both (a switchover
	// reads them).
	inflightEntries, lastAckedUs atomic.Int64

	// order drops writes older than one of the same key already forwarded
	// (keyorder); shipMu makes its decisions and the Ship calls of this
	// table one sequence across event loops.
	order  *keyorder.Guard
	shipMu sync.Mutex

	pending pendingList // requests shipped, not yet answered (/readyz)

	mu sync.Mutex // guards the create_app state below
	// create_app protocol state (duplication.md §1.6 step 6), persisted
	// in state_dir (createstate.go).
	exists   bool         // created through create_app
	rec      createRecord // valid when exists
	creating bool         // an EnsureTable call is running
	loading  bool         // a checkpoint load job is running (fullcopy.go)
}

// tableSet is the configured tables, by name and by app id. Read-only
// once published (Server.tables).
type tableSet struct {
	byName  map[string]*tableState
	byAppID map[int32]*tableState
}

func (set *tableSet) add(ts *tableState) {
	set.byName[ts.cfg.Name] = ts
	set.byAppID[ts.cfg.AppID] = ts
}

// tabs is the current table set. Any goroutine.
func (s *Server) tabs() *tableSet { return s.tables.Load() }

// newTableState is the run-time state of table t of cfg, before its
// metrics and persisted controls.
// newTableState builds a table's state; its per-key order guard is the one
// guards has for it (Options.Guards), else a new, empty one.
func newTableState(cfg *config.Config, t *config.Table, guards map[string]*keyorder.Guard) *tableState {
	ts := &tableState{cfg: t, order: guards[t.Name]}
	if ts.order == nil {
		ts.order = keyorder.New(keyorder.Options{})
	}
	ts.paused.Store(t.Paused)
	ts.confFail = failMode{policy: t.FailurePolicy, attempts: t.SkipAfterAttempts}
	ts.fail.Store(&failMode{policy: t.FailurePolicy, attempts: t.SkipAfterAttempts})
	for id := 1; id < 128; id++ {
		ts.allowed[id] = cfg.Allows(t, int8(id))
	}
	return ts
}

// allows reports whether entries with cluster id id are accepted for the
// table (duplication.md §4.2 items 1-2, checked against the bridge's
// configuration, not the follower's). Any goroutine.
func (ts *tableState) allows(id int8) bool { return id > 0 && ts.allowed[id] }

// New validates opts and builds a Server; Run starts it.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("server: Options.Config is required")
	}
	if opts.Shipper == nil && opts.Face == nil {
		return nil, errors.New("server: Options.Shipper is required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Listen == "" {
		opts.Listen = opts.Config.Bridge.Listen
	}
	if opts.HTTPListen == "" {
		opts.HTTPListen = opts.Config.Bridge.HTTPListen
	}
	if opts.WriteLimit <= 0 {
		opts.WriteLimit = config.FollowerWriteLimit
	}
	if opts.MaxOutbound <= 0 {
		opts.MaxOutbound = 4 << 20
	}
	ap := opts.Config.Bridge.AdvertisedAddr
	if !ap.IsValid() || !ap.Addr().Is4() {
		return nil, fmt.Errorf("server: advertised address %v is not IPv4", ap)
	}
	now := time.Now().Unix()
	s := &Server{
		cfg:      opts.Config,
		current:  opts.Config,
		opts:     opts,
		log:      opts.Logger,
		shipper:  opts.Shipper,
		from:     codec.MakeAddress(ap.Addr().As4(), ap.Port()),
		ballot:   now,
		startSec: now,
		blocked:  map[*connState]struct{}{},
		conns:    map[*connState]struct{}{},
		ready:    make(chan struct{}),
		runCtx:   context.Background(),
	}
	if opts.Ballot > 0 {
		s.ballot = opts.Ballot
	}
	s.setLimits(&opts.Config.Bridge)
	b := &opts.Config.Bridge
	s.maxConn = b.MaxConnectionBytes
	if opts.MaxConnectionBytes > 0 {
		s.maxConn = opts.MaxConnectionBytes
	}
	if s.maxConn <= 0 {
		s.maxConn = 2 * int64(cmp.Or(b.MaxFrameSize, config.DefaultMaxFrameSize))
	}
	s.waitRoom = cmp.Or(opts.WaitRoom, WaitRoom)
	s.asmMin = asmThreshold
	s.gate = &gate{
		maxConns: connCap(cmp.Or(b.MaxConnections, config.DefaultMaxConnections)),
		perPeer:  cmp.Or(b.MaxConnectionsPerPeer, config.DefaultMaxConnectionsPerPeer),
		allowed:  b.AllowedPeers,
		byPeer:   map[netip.Addr]int{},
	}

	set := &tableSet{byName: map[string]*tableState{}, byAppID: map[int32]*tableState{}}
	for i := range opts.Config.Tables {
		set.add(newTableState(opts.Config, &opts.Config.Tables[i], opts.Guards))
	}
	s.tables.Store(set)
	s.stateDir = cmp.Or(opts.StateDir, opts.Config.Bridge.StateDir, config.DefaultStateDir)
	if err := s.loadControls(); err != nil {
		return nil, fmt.Errorf("server: table controls: %w", err)
	}
	if opts.Loader == nil {
		opts.Loader, _ = opts.Creator.(CheckpointLoader)
		s.opts.Loader = opts.Loader
	}
	if err := s.readCreateRecords(); err != nil {
		return nil, err
	}
	if err := s.newMetrics(); err != nil {
		return nil, fmt.Errorf("server: metrics: %w", err)
	}
	return s, nil
}

// Run serves until ctx is cancelled, then shuts down gracefully: it stops
// taking new requests and connections, waits up to ShutdownTimeout for the
// requests in flight to be acknowledged and answered, then closes every
// connection. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	s.runCtx = ctx
	s.resumeLoads()
	b := &s.cfg.Bridge
	gopts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithTicker(true),
		gnet.WithLogger(s.log.Sugar()),
	}
	if b.EventLoops > 0 {
		gopts = append(gopts, gnet.WithNumEventLoop(b.EventLoops))
	}
	ln := s.opts.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.opts.Listen); err != nil {
			return fmt.Errorf("server: listening on %s: %w", s.opts.Listen, err)
		}
	}
	// gnet's event loops without a listener of their own: the bridge
	// accepts (listener.go) and enrolls each admitted connection.
	cli, err := gnet.NewClient(s, gopts...)
	if err == nil {
		err = cli.Start()
	}
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("server: starting event loops: %w", err)
	}
	s.addr = ln.Addr()
	s.lastTick.Store(time.Now().UnixNano())
	acceptCtx, stopAccept := context.WithCancel(context.Background())
	accepting := make(chan struct{})
	go func() { defer close(accepting); s.acceptLoop(acceptCtx, ln, cli) }()
	stopLoops := func() {
		stopAccept()
		_ = ln.Close()
		<-accepting
		if err := cli.Stop(); err != nil {
			s.log.Warn("stopping event loops", zap.Error(err))
		}
	}
	maxConns := s.gate.limit()
	s.log.Info("dupbridge serving", zap.Stringer("addr", s.addr), zap.String("advertised", b.AdvertisedAddr.String()),
		zap.Int("tables", len(s.tabs().byName)), zap.Int64("max_inflight_bytes", s.maxInflight.Load()),
		zap.Int64("max_connection_bytes", s.maxConn), zap.Int("max_connections", maxConns))
	if maxConns < b.MaxConnections {
		s.log.Warn("max_connections lowered to stay below the descriptor limit (ulimit -n)",
			zap.Int("configured", b.MaxConnections), zap.Int("effective", maxConns))
	}
	// Ready after the startup lines: a caller waiting on it reads them written.
	close(s.ready)

	var hs *http.Server
	if s.opts.HTTPListen != "" && s.opts.HTTPListen != "-" {
		hln, err := ListenAdmin(s.opts.HTTPListen, b)
		if err != nil {
			stopLoops()
			return fmt.Errorf("server: %w", err)
		}
		hs = &http.Server{Handler: s.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(hln) }()
		s.log.Info("status http serving", zap.Stringer("addr", hln.Addr()), zap.Bool("tls", b.HTTPTLSCert != ""))
	}

	if err := s.watch(ctx); err != nil {
		// The event loops are gone: nothing can be drained.
		s.log.Error("server stopped", zap.Error(err))
		stopLoops()
		if hs != nil {
			_ = hs.Close()
		}
		return err
	}
	s.drain(b.ShutdownTimeout)
	stopLoops()
	if hs != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(stopCtx)
	}
	s.jobs.Wait() // checkpoint loads end with ctx; none outlives Run
	return nil
}

// loopsDeadAfter: gnet's ticker stops when any event loop exits (the
// engine's context is cancelled), so ticks missing this long mean the
// loops died.
const loopsDeadAfter = 10 * time.Second

// watch waits for ctx, returning nil, or for the event loops to stop on
// their own, returning why that is fatal.
func (s *Server) watch(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if since := time.Since(time.Unix(0, s.lastTick.Load())); since > loopsDeadAfter {
				return fmt.Errorf("server: event loops stopped (no tick for %v)", since.Round(time.Second))
			}
		}
	}
}

// drain stops decoding new requests (and accepting connections), waits for
// in-flight requests to complete up to timeout, then gives the loops a
// moment to flush the last replies.
func (s *Server) drain(timeout time.Duration) {
	s.draining.Store(true)
	deadline := time.Now().Add(timeout)
	for s.stats.inflightRequests.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.stats.inflightRequests.Load(); n > 0 {
		s.log.Warn("shutdown: requests still in flight after timeout; their masters will resend",
			zap.Int64("requests", n), zap.Duration("timeout", timeout))
	}
	// Replies completed just now sit in outboxes: wake every connection
	// and wait (briefly) until they are written.
	flushDeadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(flushDeadline) {
		pending := false
		s.mu.Lock()
		for cs := range s.conns {
			if cs.hasOutbox() {
				pending = true
				cs.wake()
			}
		}
		s.mu.Unlock()
		if !pending {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Addr is the bound RPC listen address; nil before Ready.
func (s *Server) Addr() net.Addr {
	select {
	case <-s.ready:
		return s.addr
	default:
		return nil
	}
}

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := s.stats.snapshot(s.inflight.Load())
	st.WaitingBytes = s.waiting.Load()
	s.metrics.addTableCounts(&st, s.tabs().byName)
	return st
}

// SetPaused pauses or resumes (starts) a table: while paused, masters get
// a retryable error (13, never 4) and nothing is shipped. It reports
// whether the table exists; the change is persisted and logged like
// Control's. Any goroutine.
func (s *Server) SetPaused(table string, paused bool) bool {
	_, err := s.setPaused(table, paused, "api")
	return err == nil
}

// setPaused is Control with pause or start, logging who asked (source).
func (s *Server) setPaused(table string, paused bool, source string) (ControlResult, error) {
	a := ActionStart
	if paused {
		a = ActionPause
	}
	return s.Control(table, ControlRequest{Action: a}, source)
}

// OnOpen sets up a connection's state. Event-loop only. While draining, new
// connections are closed at once (one enrolled just before draining began).
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if s.draining.Load() {
		return nil, gnet.Close
	}
	remote := ""
	if ra := c.RemoteAddr(); ra != nil {
		remote = ra.String()
	}
	cs := newConnState(s, c, remote)
	if tk, ok := c.Context().(*ticket); ok {
		cs.peer = tk.peer
		tk.opened.Store(true)
	}
	c.SetContext(cs)
	s.mu.Lock()
	s.conns[cs] = struct{}{}
	s.mu.Unlock()
	s.stats.connectionsOpened.Add(1)
	s.stats.connectionsOpen.Add(1)
	return nil, gnet.None
}

// OnClose forgets a connection. Event-loop only. Replies completed later
// for its requests are dropped (counted as RepliesLost).
func (s *Server) OnClose(c gnet.Conn, err error) gnet.Action {
	cs, ok := c.Context().(*connState)
	if !ok {
		return gnet.None
	}
	cs.onClose()
	s.mu.Lock()
	delete(s.conns, cs)
	delete(s.blocked, cs)
	s.mu.Unlock()
	s.gate.leave(cs.peer)
	s.stats.connectionsOpen.Add(-1)
	if err != nil {
		s.log.Debug("connection closed", zap.String("remote", cs.remote), zap.Error(err))
	}
	return gnet.None
}

// OnTraffic is called by gnet when bytes arrived and when a connection is
// woken (a reply is waiting in its outbox, or memory was freed). Event-loop
// only: it writes the outbox, then decodes frames in place.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	cs, ok := c.Context().(*connState)
	if !ok {
		return gnet.Close
	}
	return cs.onTraffic()
}

// OnTick wakes stalled connections periodically, a safety net for wake-ups
// that found the cap still reached, and for connections stalled on their
// own outbound buffer (gnet has no "drained" event).
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	now := time.Now()
	s.lastTick.Store(now.UnixNano())
	s.wakeBlocked()
	if now.Sub(s.lastSweep) >= sweepEvery {
		s.lastSweep = now
		s.sweep(now)
	}
	return 50 * time.Millisecond, gnet.None
}

// block records that cs stopped decoding; it is woken when memory frees.
// Event-loop only (cs's loop).
func (s *Server) block(cs *connState) {
	s.mu.Lock()
	s.blocked[cs] = struct{}{}
	s.mu.Unlock()
}

// wakeBlocked wakes every stalled connection if there is room again. Any
// goroutine.
func (s *Server) wakeBlocked() {
	if s.draining.Load() {
		return
	}
	s.mu.Lock()
	if len(s.blocked) == 0 {
		s.mu.Unlock()
		return
	}
	var list []*connState
	for cs := range s.blocked {
		list = append(list, cs)
	}
	clear(s.blocked)
	s.mu.Unlock()
	for _, cs := range list {
		cs.wake()
	}
}

// release returns n in-flight bytes and wakes stalled connections once the
// level is below the cap. Any goroutine.
func (s *Server) release(n int64) {
	left := s.inflight.Add(-n)
	if left < s.maxInflight.Load() {
		s.mu.Lock()
		any := len(s.blocked) > 0
		s.mu.Unlock()
		if any {
			s.wakeBlocked()
		}
	}
}
