package metaproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/server"
)

// Options configure a Proxy.
type Options struct {
	// Config is the [meta-proxy] section (required).
	Config *config.MetaProxy
	// Logger; zap.NewNop() when nil.
	Logger *zap.Logger
	// Listen overrides Config.Listen (tests use 127.0.0.1:0).
	Listen string
	// HTTPListen overrides Config.HTTPListen; "-" serves no HTTP.
	HTTPListen string
	// Client configures the connections to the clusters' metas; its dial
	// timeout defaults to 2 s here, and writes are always asynchronous
	// (rpcclient.Options.AsyncWrites).
	Client rpcclient.Options
	// QueryTimeout bounds the answer to one client query: the ZooKeeper
	// read when the table is not cached, then the forward (default 5 s).
	QueryTimeout time.Duration
}

// Proxy is the meta-proxy. It is a server.Face: hosted by a server.Server
// of its own (Run), it answers every request on that port.
type Proxy struct {
	opts  Options
	cfg   *config.MetaProxy
	log   *zap.Logger
	store *Store
	srv   *server.Server
	m     *metrics

	cache *lru.Cache[string, *entry] // safe for concurrent use
	sf    singleflight.Group         // one ZooKeeper read per missing table

	mu    sync.Mutex
	metas map[string]*rpcclient.Meta // by normalised meta_addrs
	hist  history

	fmu     sync.Mutex
	flights map[flightKey]*flight // queries on their way to a meta

	// lostAt is when the ZooKeeper session was last lost (unix ns), 0
	// while it is established.
	lostAt atomic.Int64

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
}

// entry is one cached table: its binding and the watch that keeps it.
type entry struct {
	table string
	b     atomic.Pointer[binding]
	stale atomic.Bool // the watch is lost (session expired) and not yet re-armed
	// dropped: removed for its node's sake (deleted, malformed), not evicted
	dropped atomic.Bool
	tc      *tableCounters
	ctx     context.Context
	cancel  context.CancelFunc
}

// binding is what a table maps to, as read from ZooKeeper.
type binding struct {
	rec     Record
	version int32
	meta    *rpcclient.Meta
	readAt  time.Time
}

var _ server.Face = (*Proxy)(nil)

// New dials ZooKeeper (in the background: a proxy starts while ZooKeeper
// is down and serves once it is up) and builds the proxy's server.
func New(opts Options) (*Proxy, error) {
	if opts.Config == nil {
		return nil, errors.New("metaproxy: Options.Config is required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 5 * time.Second
	}
	if opts.Client.DialTimeout <= 0 {
		opts.Client.DialTimeout = 2 * time.Second
	}
	opts.Client.AsyncWrites = true // forwards leave from the event loops: never write there
	cfg := opts.Config
	p := &Proxy{opts: opts, cfg: cfg, log: opts.Logger.Named("meta-proxy"), metas: map[string]*rpcclient.Meta{},
		flights: map[flightKey]*flight{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.hist.max = historyLen
	p.lostAt.Store(time.Now().UnixNano())
	var err error
	if p.m, err = newMetrics(p); err != nil {
		return nil, err
	}
	p.cache, err = lru.NewWithEvict(cfg.CacheTables, func(_ string, e *entry) {
		e.cancel()
		if !e.dropped.Load() {
			p.m.evictions.Inc()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("metaproxy: cache: %w", err)
	}
	p.store, err = Dial(cfg.ZK, cfg.Root, StoreOptions{SessionTimeout: cfg.SessionTimeout, OnEvent: p.onSession, Logger: p.log})
	if err != nil {
		return nil, err
	}
	if p.srv, err = p.newServer(); err != nil {
		p.store.Close()
		return nil, err
	}
	return p, nil
}

// newServer builds the server.Server hosting the proxy as its only face.
func (p *Proxy) newServer() (*server.Server, error) {
	listen := p.cfg.Listen
	if p.opts.Listen != "" {
		listen = p.opts.Listen
	}
	adv := p.cfg.AdvertisedAddr
	if !adv.IsValid() {
		adv = netip.AddrPortFrom(netip.IPv4Unspecified(), listenPort(listen))
	}
	sc := &config.Config{Bridge: config.Bridge{
		Listen: listen, AdvertisedAddr: adv, AdvertisedHost: adv.Addr().String(),
		MaxInflightBytes: config.DefaultMaxInflightBytes, MaxFrameSize: config.DefaultMaxFrameSize,
		ShutdownTimeout: p.opts.QueryTimeout, EventLoops: p.cfg.EventLoops,
		LaggingWriteThreshold: config.DefaultLaggingWriteThreshold,
	}}
	return server.New(server.Options{Config: sc, Face: p, Logger: p.log, HTTPListen: "-"})
}

func listenPort(hostport string) uint16 {
	_, port, _ := net.SplitHostPort(hostport)
	n, _ := strconv.Atoi(port)
	return uint16(n)
}

// Run serves until ctx is cancelled, then drains the queries in flight and
// closes ZooKeeper and the meta connections.
func (p *Proxy) Run(ctx context.Context) error {
	defer p.Close()
	httpListen := p.cfg.HTTPListen
	if p.opts.HTTPListen != "" {
		httpListen = p.opts.HTTPListen
	}
	if httpListen != "" && httpListen != "-" {
		ln, err := net.Listen("tcp", httpListen)
		if err != nil {
			return fmt.Errorf("metaproxy: http listen on %s: %w", httpListen, err)
		}
		hs := &http.Server{Handler: p.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		defer func() { _ = hs.Close() }()
		p.log.Info("meta-proxy status http serving", zap.Stringer("addr", ln.Addr()))
	}
	p.log.Info("meta-proxy starting", zap.Strings("zk", p.cfg.ZK), zap.String("root", p.cfg.Root),
		zap.Int("cache_tables", p.cfg.CacheTables))
	return p.srv.Run(ctx)
}

// Addr is the bound RPC address; nil before Ready.
func (p *Proxy) Addr() net.Addr { return p.srv.Addr() }

// Ready is closed once the proxy accepts connections.
func (p *Proxy) Ready() <-chan struct{} { return p.srv.Ready() }

// Close stops the watches and closes ZooKeeper and the meta connections
// (Run calls it on return).
func (p *Proxy) Close() {
	p.cancel()
	p.store.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, m := range p.metas {
		_ = m.Close()
		delete(p.metas, k)
	}
}

// onSession follows the ZooKeeper session state. ZooKeeper client
// goroutine; must not block.
func (p *Proxy) onSession(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	p.m.zkEvent(ev.State.String())
	switch ev.State {
	case zk.StateHasSession:
		if at := p.lostAt.Swap(0); at != 0 {
			p.log.Info("ZooKeeper session established; cached tables are current again",
				zap.Duration("unverified_for", time.Since(time.Unix(0, at))))
		}
	case zk.StateDisconnected, zk.StateExpired:
		if p.lostAt.CompareAndSwap(0, time.Now().UnixNano()) {
			p.log.Warn("ZooKeeper session lost: cached tables are served as they were (stale) until it is back",
				zap.String("state", ev.State.String()), zap.Int("cached_tables", p.cache.Len()))
		}
	}
}

// Serve answers every request on the proxy's port: query config is looked
// up and forwarded; anything else gets ERR_HANDLER_NOT_FOUND, as a meta
// server answers an RPC it has no handler for (wire.md §1.3). Event loop.
func (p *Proxy) Serve(f *codec.Frame, r *server.Responder) bool {
	if string(f.RPCName) != codec.RPCQueryPartitionConfigByIndex {
		p.m.unknownRPCs.Inc()
		r.Now(codec.ErrorHandlerNotFound, nil)
		return true
	}
	table, indices, err := server.ParseQueryConfig(f.Body)
	if err != nil {
		p.m.badRequests.Inc()
		p.log.Debug("bad query_cfg_request", zap.Error(err))
		r.Now(codec.ErrorInvalidData, nil)
		return true
	}
	later := r.Later()
	if e, ok := p.cache.Get(table); ok { // the common case: forwarded from the loop, no goroutine
		e.tc.query(true)
		p.forward(later, table, indices, e.b.Load(), e.tc)
		return true
	}
	go p.answer(later, table, indices)
	return true
}

// answer resolves table (reading ZooKeeper) and forwards the query to its
// cluster's meta. Own goroutine.
func (p *Proxy) answer(later *server.Later, table string, indices []int32) {
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.QueryTimeout)
	defer cancel()
	b, tc, err := p.lookup(ctx, table)
	if err != nil {
		p.reject(later, table, err)
		return
	}
	p.forward(later, table, indices, b, tc)
}

// flightKey identifies identical queries to one cluster.
type flightKey struct {
	meta    *rpcclient.Meta
	table   string
	indices string
}

// flight is a query on its way to a meta, and the requests that wait for
// its answer.
type flight struct{ waiters []*server.Later }

func indicesKey(indices []int32) string {
	b := make([]byte, 0, 4*len(indices))
	for _, i := range indices {
		b = append(b, byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
	}
	return string(b)
}

// forward sends the query to b's cluster and answers with the meta's
// response as received. A query identical to one already on its way to
// the same cluster (same table and partition indices) waits for that
// one's answer instead of being sent again: after a primary moves, every
// client of the table asks at once, and the meta sees one query per proxy
// instead of thousands. Such an answer was produced at most one round trip
// before the request arrived. Any goroutine; it does not block (completion
// runs on the meta connection's reader goroutine, or on a failover
// goroutine).
func (p *Proxy) forward(later *server.Later, table string, indices []int32, b *binding, tc *tableCounters) {
	key := flightKey{meta: b.meta, table: table, indices: indicesKey(indices)}
	p.fmu.Lock()
	if f := p.flights[key]; f != nil {
		f.waiters = append(f.waiters, later)
		p.fmu.Unlock()
		tc.coalesce()
		return
	}
	f := &flight{waiters: []*server.Later{later}}
	p.flights[key] = f
	p.fmu.Unlock()
	tc.forward()
	ctx, cancel := context.WithTimeout(p.ctx, p.opts.QueryTimeout)
	b.meta.GoQueryConfigRaw(ctx, table, indices, func(body []byte, _ string, err error) {
		cancel()
		p.fmu.Lock()
		delete(p.flights, key)
		waiters := f.waiters
		p.fmu.Unlock()
		if err != nil {
			// No meta of the cluster answered: pegasus-kv's proxy answers
			// ERR_UNKNOWN (its meta call returns a context error).
			tc.forwardError()
			p.log.Warn("forwarding query config: no meta answered", zap.String("table", table),
				zap.String("cluster", b.rec.ClusterName), zap.Error(err))
			body = server.AppendQueryConfigError(nil, codec.ErrorUnknown)
		}
		for _, w := range waiters {
			w.Reply(codec.ErrorOK, body)
		}
	})
}

// reject answers a query whose table could not be resolved, with the error
// name pegasus-kv's proxy uses (ErrorName) in the response's err field.
func (p *Proxy) reject(later *server.Later, table string, err error) {
	name := ErrorName(err)
	p.m.lookupErrors.WithLabelValues(name).Inc()
	p.log.Debug("query config refused", zap.String("table", table), zap.String("error", name), zap.Error(err))
	later.Reply(codec.ErrorOK, server.AppendQueryConfigError(nil, name))
}

// lookup returns table's binding and counters: from the cache, else read
// (and watched) from ZooKeeper, one read per table however many queries
// wait for it. It counts the query.
func (p *Proxy) lookup(ctx context.Context, table string) (*binding, *tableCounters, error) {
	if e, ok := p.cache.Get(table); ok {
		e.tc.query(true)
		return e.b.Load(), e.tc, nil
	}
	tc := p.m.forTable(table)
	tc.query(false)
	ch := p.sf.DoChan(table, func() (any, error) { return p.load(table, tc) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, nil, r.Err
		}
		return r.Val.(*binding), tc, nil
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%w: reading %s: %v", ErrZooKeeper, p.store.Path(table), ctx.Err())
	}
}

// load reads table from ZooKeeper with a watch, caches it and starts the
// goroutine that follows the watch.
func (p *Proxy) load(table string, tc *tableCounters) (*binding, error) {
	if e, ok := p.cache.Peek(table); ok { // loaded while we waited
		return e.b.Load(), nil
	}
	rec, version, ch, err := p.store.GetW(table)
	if err != nil {
		if errors.Is(err, ErrZooKeeper) {
			p.m.zkErrors.WithLabelValues("get").Inc()
		}
		return nil, err
	}
	b, err := p.bind(rec, version)
	if err != nil {
		return nil, err
	}
	e := &entry{table: table, tc: tc}
	e.ctx, e.cancel = context.WithCancel(p.ctx)
	e.b.Store(b)
	p.cache.Add(table, e)
	go p.watch(e, ch)
	return b, nil
}

// bind resolves rec's meta client (one per distinct meta list, shared by
// the tables of a cluster).
func (p *Proxy) bind(rec Record, version int32) (*binding, error) {
	metas := rec.Metas()
	key := strings.Join(metas, ",")
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.metas[key]
	if m == nil {
		var err error
		m, err = rpcclient.NewMeta(metas, rpcclient.MetaOptions{Options: p.opts.Client, Rounds: 2, RetryDelay: 200 * time.Millisecond})
		if err != nil {
			return nil, fmt.Errorf("%w: meta_addrs %q: %v", ErrMalformed, rec.MetaAddrs, err)
		}
		p.metas[key] = m
	}
	return &binding{rec: rec, version: version, meta: m, readAt: time.Now()}, nil
}

// watch follows e's ZooKeeper watch until e leaves the cache: a changed
// node is re-read (and the move recorded), a deleted or malformed one
// leaves the cache, and a watch lost with the session is re-armed once
// ZooKeeper is back, meanwhile e is served as it was (stale). Own goroutine.
func (p *Proxy) watch(e *entry, ch <-chan zk.Event) {
	for {
		var ev zk.Event
		select {
		case <-e.ctx.Done():
			return
		case ev = <-ch:
		}
		p.m.zkEvent(ev.Type.String())
		e.tc.n.ZKEvents.Add(1)
		switch ev.Type {
		case zk.EventNodeDeleted:
			p.drop(e, "node deleted")
			return
		case zk.EventNotWatching:
			e.stale.Store(true)
		}
		if ch = p.rearm(e); ch == nil {
			return
		}
	}
}

// rearm re-reads e's node with a new watch, retrying while ZooKeeper is
// unreachable. It returns nil when e left the cache.
func (p *Proxy) rearm(e *entry) <-chan zk.Event {
	delay := 100 * time.Millisecond
	for {
		rec, version, ch, err := p.store.GetW(e.table)
		switch {
		case err == nil:
			b, err := p.bind(rec, version)
			if err != nil {
				p.drop(e, err.Error())
				return nil
			}
			old := e.b.Swap(b)
			e.stale.Store(false)
			if old.rec != rec {
				p.moved(e.table, old, b)
			}
			return ch
		case errors.Is(err, ErrNoTable), errors.Is(err, ErrMalformed):
			p.drop(e, err.Error())
			return nil
		}
		p.m.zkErrors.WithLabelValues("rewatch").Inc()
		e.tc.n.ZKErrors.Add(1)
		e.stale.Store(true)
		t := time.NewTimer(delay)
		select {
		case <-e.ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// drop removes e from the cache (if it is still there): the next query of
// its table reads ZooKeeper again and gets that answer.
func (p *Proxy) drop(e *entry, why string) {
	p.log.Info("table mapping dropped from the cache", zap.String("table", e.table), zap.String("why", why))
	e.dropped.Store(true)
	if cur, ok := p.cache.Peek(e.table); ok && cur == e {
		p.cache.Remove(e.table)
	}
	e.cancel()
}

// moved records a change of a cached table's mapping.
func (p *Proxy) moved(table string, from, to *binding) {
	p.m.forTable(table).switches.Inc()
	p.hist.add(Move{Table: table, From: from.rec.ClusterName, To: to.rec.ClusterName, FromMetas: from.rec.MetaAddrs,
		ToMetas: to.rec.MetaAddrs, Version: to.version, At: to.readAt})
	p.log.Info("table moved", zap.String("table", table), zap.String("from", from.rec.ClusterName),
		zap.String("to", to.rec.ClusterName), zap.String("metas", to.rec.MetaAddrs), zap.Int32("version", to.version))
}
