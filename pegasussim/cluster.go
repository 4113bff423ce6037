package pegasussim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"sync"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
)

// ErrUnknownTable is returned by the verification and fault API for a table
// the simulator does not have.
var ErrUnknownTable = errors.New("pegasussim: unknown table")

// ErrBadArgument is returned by the fault API for out-of-range arguments.
var ErrBadArgument = errors.New("pegasussim: bad argument")

// Cluster is a simulated follower Pegasus cluster. Create it with New, then
// Start it; all methods are safe for concurrent use.
type Cluster struct {
	opts     Options
	logger   *zap.Logger
	hostName string

	mu        sync.RWMutex
	tables    map[string]*table
	byID      map[int32]*table
	dropped   []*table
	nextAppID int32
	rr        int // round-robin cursor for primaries

	meta     *endpoint
	replicas []*endpoint

	httpSrv *http.Server
	httpLn  net.Listener

	dupIDs map[uint8]bool

	faults   faults
	nfs      nfsState
	counters counters

	startOnce sync.Once
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New builds a simulator with its tables; it listens nowhere until Start.
func New(opts Options) (*Cluster, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		opts: o, logger: o.Logger, tables: map[string]*table{}, byID: map[int32]*table{},
		nextAppID: 1, dupIDs: map[uint8]bool{},
	}
	for _, id := range o.DupGroup {
		c.dupIDs[id] = true
	}
	if o.ClusterID != 0 {
		c.dupIDs[o.ClusterID] = true
	}
	c.faults.init()
	c.counters.init()
	c.meta = &endpoint{c: c, idx: -1, conns: map[*conn]struct{}{}}
	for i := 0; i < o.Replicas; i++ {
		c.replicas = append(c.replicas, &endpoint{c: c, idx: i, conns: map[*conn]struct{}{}})
	}
	for _, ts := range o.Tables {
		if ts.Name == "" || ts.Partitions < 1 {
			return nil, fmt.Errorf("pegasussim: table %q with %d partitions: %w", ts.Name, ts.Partitions, ErrBadArgument)
		}
		if _, ok := c.tables[ts.Name]; ok {
			return nil, fmt.Errorf("pegasussim: table %q twice: %w", ts.Name, ErrBadArgument)
		}
		if ts.AppID < 0 || (ts.AppID > 0 && c.byID[ts.AppID] != nil) {
			return nil, fmt.Errorf("pegasussim: table %q app_id %d taken or negative: %w", ts.Name, ts.AppID, ErrBadArgument)
		}
		if err := checkpointSpecErr(ts); err != nil {
			return nil, err
		}
		rc := ts.ReplicaCount
		if rc == 0 {
			rc = o.Replicas
		}
		t := c.addTableLocked(ts.Name, ts.AppID, ts.Partitions, rc, ts.Envs)
		t.checkpointDir, t.checkpointDecree = ts.CheckpointDir, max(ts.CheckpointDecree, 1)
	}
	return c, nil
}

// Start creates a simulator and starts it: New then (*Cluster).Start.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	c, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// addTableLocked creates a table; c.mu must be held (or c unshared).
func (c *Cluster) addTableLocked(name string, appID int32, partitions, replicaCount int, envs map[string]string) *table {
	if appID == 0 {
		for c.byID[c.nextAppID] != nil {
			c.nextAppID++
		}
		appID = c.nextAppID
		c.nextAppID++
	}
	t := newTable(name, appID, partitions, replicaCount, len(c.replicas), envs, c.opts.Now(), &c.rr)
	c.tables[name] = t
	c.byID[appID] = t
	return t
}

func (c *Cluster) dropTable(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tables[name]
	if t == nil {
		return false
	}
	delete(c.tables, name)
	delete(c.byID, t.appID)
	t.status = asDropped
	t.dropSecond = c.opts.Now().Unix()
	c.dropped = append(c.dropped, t)
	c.logger.Info("pegasussim: simulator dropped table", zapTable(t)...)
	return true
}

func (c *Cluster) allTablesLocked() []*table {
	out := make([]*table, 0, len(c.tables)+len(c.dropped))
	for _, t := range c.tables {
		out = append(out, t)
	}
	out = append(out, c.dropped...)
	sort.Slice(out, func(i, j int) bool { return out[i].appID < out[j].appID })
	return out
}

func zapTable(t *table) []zap.Field {
	return []zap.Field{zap.String("table", t.name), zap.Int32("app_id", t.appID), zap.Int("partitions", len(t.parts)), zap.Int("replica_count", t.replicaCount)}
}

// Start listens on the meta and replica addresses (and the HTTP control
// address when set) and serves until ctx is cancelled or Close is called.
func (c *Cluster) Start(ctx context.Context) error {
	err := errors.New("pegasussim: already started")
	c.startOnce.Do(func() { err = c.start(ctx) })
	return err
}

func (c *Cluster) start(ctx context.Context) error {
	if err := c.meta.listen(c.opts.MetaAddr); err != nil {
		return err
	}
	for i, ep := range c.replicas {
		if err := ep.listen(c.opts.ReplicaAddrs[i]); err != nil {
			c.Close()
			return err
		}
	}
	c.hostName = c.opts.HostName
	if c.hostName == "" {
		c.hostName = c.meta.addr.Addr().String()
	}
	if c.opts.HTTPAddr != "" {
		if err := c.startHTTP(c.opts.HTTPAddr); err != nil {
			c.Close()
			return err
		}
	}
	for _, ep := range c.endpoints() {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			ep.acceptLoop()
		}()
	}
	// Not in c.wg: Close waits for c.wg and is called from here.
	go func() {
		select {
		case <-ctx.Done():
			c.shutdown()
		case <-c.meta.done:
		}
	}()
	c.logger.Info("pegasussim: simulator started", zap.String("meta", c.MetaAddr()), zap.Strings("replicas", c.ReplicaAddrs()), zap.String("http", c.HTTPAddr()))
	return nil
}

func (c *Cluster) endpoints() []*endpoint {
	return append([]*endpoint{c.meta}, c.replicas...)
}

// Close stops listening, closes every connection and waits for the
// simulator's goroutines. Data stays readable through the verification API.
func (c *Cluster) Close() error {
	c.shutdown()
	c.wg.Wait()
	return nil
}

func (c *Cluster) shutdown() {
	c.closeOnce.Do(func() {
		if c.httpSrv != nil {
			c.httpSrv.Close()
		}
		for _, ep := range c.endpoints() {
			ep.close()
		}
	})
}

// MetaAddr is the meta endpoint's host:port ("" before Start).
func (c *Cluster) MetaAddr() string { return c.meta.String() }

// ReplicaAddrs are the replica endpoints' host:port, by endpoint index.
func (c *Cluster) ReplicaAddrs() []string {
	out := make([]string, len(c.replicas))
	for i, ep := range c.replicas {
		out[i] = ep.String()
	}
	return out
}

// HTTPAddr is the control endpoint's host:port, "" when not serving.
func (c *Cluster) HTTPAddr() string {
	if c.httpLn == nil {
		return ""
	}
	return c.httpLn.Addr().String()
}

// endpoint is one listening address: the meta (idx -1) or a replica.
type endpoint struct {
	c        *Cluster
	idx      int
	ln       net.Listener
	addr     netip.AddrPort
	from     uint64 // our rpc_address (wire.md §1.5)
	hostPort string
	done     chan struct{}

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
}

func (ep *endpoint) isMeta() bool { return ep.idx < 0 }

func (ep *endpoint) String() string {
	if ep.ln == nil {
		return ""
	}
	return ep.hostPort
}

func (ep *endpoint) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pegasussim: listen %s: %w", addr, err)
	}
	ap, err := netip.ParseAddrPort(ln.Addr().String())
	if err != nil {
		ln.Close()
		return fmt.Errorf("pegasussim: listen %s: %w", addr, err)
	}
	if !ap.Addr().IsLoopback() {
		ln.Close()
		return fmt.Errorf("pegasussim: listen %s: the simulator serves loopback only: %w", addr, ErrBadArgument)
	}
	from, err := codec.AddressFromAddrPort(ap)
	if err != nil {
		ln.Close()
		return fmt.Errorf("pegasussim: listen %s: %w", addr, err)
	}
	ep.ln, ep.addr, ep.from, ep.hostPort = ln, ap, from, ap.String()
	ep.done = make(chan struct{})
	return nil
}

// setAddr gives an unlistened endpoint an address (tests, fuzzing).
func (ep *endpoint) setAddr(ap netip.AddrPort) {
	ep.addr = ap
	ep.from, _ = codec.AddressFromAddrPort(ap)
	ep.hostPort = ap.String()
}

func (ep *endpoint) acceptLoop() {
	for {
		nc, err := ep.ln.Accept()
		if err != nil {
			return
		}
		cn := &conn{nc: nc, ep: ep}
		ep.mu.Lock()
		if ep.closed {
			ep.mu.Unlock()
			nc.Close()
			return
		}
		ep.conns[cn] = struct{}{}
		ep.mu.Unlock()
		ep.c.counters.add(&ep.c.counters.connections, 1)
		ep.c.wg.Add(1)
		go func() {
			defer ep.c.wg.Done()
			cn.serve()
			ep.mu.Lock()
			delete(ep.conns, cn)
			ep.mu.Unlock()
		}()
	}
}

// closeConns closes every connection of the endpoint; returns how many.
func (ep *endpoint) closeConns() int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	n := 0
	for cn := range ep.conns {
		cn.close()
		n++
	}
	return n
}

func (ep *endpoint) close() {
	ep.mu.Lock()
	if ep.closed {
		ep.mu.Unlock()
		return
	}
	ep.closed = true
	ep.mu.Unlock()
	if ep.ln != nil {
		ep.ln.Close()
		close(ep.done)
	}
	ep.closeConns()
}
