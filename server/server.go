package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/config"
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
	// Collectors are registered on the Server's Prometheus registry next
	// to its own metrics (e.g. the follower side's, server/follower). New
	// fails if one cannot be registered.
	Collectors []prometheus.Collector
	// Guards are the per-key order guards to use, by table name (an edge
	// passes the ones it rebuilt from its spool, docs/relay.md §1.6); a
	// table without one gets a new, empty guard.
	Guards map[string]*keyorder.Guard
}

// Server is the bridge's RPC endpoint: a gnet event handler serving the meta
// face and the replica face on one port (design.md steps 1, 2 and 6).
//
// Concurrency contract: New, Run and the exported getters may be called from
// any goroutine. The gnet callbacks (OnBoot, OnOpen, OnClose, OnTraffic,
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

	tables  map[string]*tableState // by config name; read-only after New
	byAppID map[int32]*tableState  // read-only after New

	from     uint64 // advertised rpc_address (wire.md §1.5)
	ballot   int64  // advertised ballot: start time in seconds, so that it grows across restarts
	startSec int64

	maxInflight int64
	inflight    atomic.Int64
	stats       counters

	reg     *prometheus.Registry // served at /metrics
	metrics *serverMetrics
	lagUs   int64 // lagging_write_threshold in µs

	draining atomic.Bool

	mu      sync.Mutex
	blocked map[*connState]struct{} // connections that stopped decoding at the cap
	conns   map[*connState]struct{}

	eng   gnet.Engine
	addr  net.Addr
	ready chan struct{}

	runCtx context.Context // set by Run; parent of create_app calls
}

// tableState is the run-time state of one configured table.
type tableState struct {
	cfg     *config.Table
	paused  atomic.Bool
	m       *tableMetrics // set by newMetrics
	allowed [128]bool     // cluster ids accepted in entries (config.Config.Allows)

	// order drops writes older than one of the same key already forwarded
	// (keyorder); shipMu makes its decisions and the Ship calls of this
	// table one sequence across event loops.
	order  *keyorder.Guard
	shipMu sync.Mutex

	mu sync.Mutex // guards the create_app state below
	// create_app protocol state (duplication.md §1.6 step 6), in memory.
	exists         bool   // created through create_app
	creating       bool   // an EnsureTable call is running
	masterCluster  string // duplication.master_cluster of the creating request
	status         string // duplication.follower_app_status: "creating" / "created" / ""
	partitionCount int    // master's count from create_app
	envs           map[string]string
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
	if opts.Shipper == nil {
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
		cfg:         opts.Config,
		opts:        opts,
		log:         opts.Logger,
		shipper:     opts.Shipper,
		tables:      map[string]*tableState{},
		byAppID:     map[int32]*tableState{},
		from:        codec.MakeAddress(ap.Addr().As4(), ap.Port()),
		ballot:      now,
		startSec:    now,
		maxInflight: opts.Config.Bridge.MaxInflightBytes,
		blocked:     map[*connState]struct{}{},
		conns:       map[*connState]struct{}{},
		ready:       make(chan struct{}),
		runCtx:      context.Background(),
	}
	if opts.Ballot > 0 {
		s.ballot = opts.Ballot
	}
	if s.maxInflight <= 0 {
		s.maxInflight = config.DefaultMaxInflightBytes
	}
	s.lagUs = opts.Config.Bridge.LaggingWriteThreshold.Microseconds()
	if s.lagUs <= 0 {
		s.lagUs = config.DefaultLaggingWriteThreshold.Microseconds()
	}
	for i := range opts.Config.Tables {
		t := &opts.Config.Tables[i]
		ts := &tableState{cfg: t, order: opts.Guards[t.Name]}
		if ts.order == nil {
			ts.order = keyorder.New(keyorder.Options{})
		}
		ts.paused.Store(t.Paused)
		for id := 1; id < 128; id++ {
			ts.allowed[id] = opts.Config.Allows(t, int8(id))
		}
		s.tables[t.Name] = ts
		s.byAppID[t.AppID] = ts
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
	b := &s.cfg.Bridge
	loops := b.EventLoops
	gopts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithTicker(true),
		gnet.WithReuseAddr(true), // a restarted bridge rebinds at once
		gnet.WithLogger(s.log.Sugar()),
	}
	if loops > 0 {
		gopts = append(gopts, gnet.WithNumEventLoop(loops))
	}
	errc := make(chan error, 1)
	go func() { errc <- gnet.Run(s, "tcp://"+s.opts.Listen, gopts...) }()

	select {
	case <-s.ready:
	case err := <-errc:
		return fmt.Errorf("server: listening on %s: %w", s.opts.Listen, err)
	}
	s.log.Info("dupbridge serving", zap.Stringer("addr", s.addr), zap.String("advertised", b.AdvertisedAddr.String()),
		zap.Int("tables", len(s.tables)), zap.Int64("max_inflight_bytes", s.maxInflight))

	var hs *http.Server
	if s.opts.HTTPListen != "" && s.opts.HTTPListen != "-" {
		ln, err := net.Listen("tcp", s.opts.HTTPListen)
		if err != nil {
			_ = s.eng.Stop(context.Background())
			<-errc
			return fmt.Errorf("server: http listen on %s: %w", s.opts.HTTPListen, err)
		}
		hs = &http.Server{Handler: s.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		s.log.Info("status http serving", zap.Stringer("addr", ln.Addr()))
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		if runErr != nil {
			runErr = fmt.Errorf("server: event loop: %w", runErr)
		}
		if hs != nil {
			_ = hs.Close()
		}
		return runErr
	}

	s.drain(b.ShutdownTimeout)
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.eng.Stop(stopCtx); err != nil {
		s.log.Warn("stopping event loops", zap.Error(err))
	}
	<-errc
	if hs != nil {
		_ = hs.Shutdown(stopCtx)
	}
	return nil
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
func (s *Server) Stats() Stats { return s.stats.snapshot(s.inflight.Load()) }

// SetPaused pauses or resumes a table: while paused, masters get a retryable
// error (13, never 4) and nothing is shipped. It reports whether the table
// exists. Each call is logged. Any goroutine.
func (s *Server) SetPaused(table string, paused bool) bool {
	_, ok := s.setPaused(table, paused, "api")
	return ok
}

// setPaused is SetPaused, logging who asked (source); it also reports the
// state before the call.
func (s *Server) setPaused(table string, paused bool, source string) (was, ok bool) {
	ts := s.tables[table]
	if ts == nil {
		return false, false
	}
	was = ts.paused.Swap(paused)
	msg := "table resumed"
	if paused {
		msg = "table paused: masters get a retryable error, nothing is shipped"
	}
	if was == paused {
		msg = "table pause state unchanged"
	}
	s.log.Info(msg, zap.String("table", table), zap.Bool("paused", paused), zap.Bool("was_paused", was), zap.String("by", source))
	return was, true
}

// OnBoot records the engine and the bound address. Called once by gnet.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	if fd, err := eng.Dup(); err == nil {
		if sa, err := syscall.Getsockname(fd); err == nil {
			switch a := sa.(type) {
			case *syscall.SockaddrInet4:
				s.addr = &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
			case *syscall.SockaddrInet6:
				s.addr = &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
			}
		}
		_ = syscall.Close(fd)
	}
	close(s.ready)
	return gnet.None
}

// OnOpen sets up a connection's state. Event-loop only. While draining, new
// connections are closed at once (gnet offers no way to stop accepting).
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if s.draining.Load() {
		return nil, gnet.Close
	}
	remote := ""
	if ra := c.RemoteAddr(); ra != nil {
		remote = ra.String()
	}
	cs := newConnState(s, c, remote)
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
	cs.closed.Store(true)
	s.mu.Lock()
	delete(s.conns, cs)
	delete(s.blocked, cs)
	s.mu.Unlock()
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
	s.wakeBlocked()
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
	if left < s.maxInflight {
		s.mu.Lock()
		any := len(s.blocked) > 0
		s.mu.Unlock()
		if any {
			s.wakeBlocked()
		}
	}
}
