package relay

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/keyorder"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/server"
	"github.com/dupbridge/dupbridge/spool"
)

// EdgeOptions configure an Edge.
type EdgeOptions struct {
	// Logger; zap.NewNop() when nil.
	Logger *zap.Logger
	// Sink overrides config relay_sink (tests).
	Sink string
	// Dial opens the TCP connection to the sink (nil: net.Dialer); TLS
	// runs on top of it. Benchmarks count the link's bytes with it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Edge is the downstream of an edge's server: it spools every part the
// server ships and sends the spool to the sink (docs/relay.md). It
// implements server.Shipper.
//
// Concurrency contract: PartitionCount and Ship are called on gnet event
// loops and never block; the rest may be called from any goroutine.
type Edge struct {
	cfg     *config.Config
	log     *zap.Logger
	sink    string
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	tls     *tls.Config
	dict    *Dict
	streams map[string]*stream
	metrics *edgeMetrics
}

var _ server.DeferredShipper = (*Edge)(nil)

// NewEdge opens every table's spool under state_dir/spool/<table>,
// rebuilding each table's per-key order guard from it (docs/relay.md §1.6).
// Run ships; Close closes the spools.
func NewEdge(cfg *config.Config, o EdgeOptions) (*Edge, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	r := &cfg.Bridge.Relay
	e := &Edge{cfg: cfg, log: o.Logger, sink: r.Sink, streams: map[string]*stream{}, metrics: newEdgeMetrics()}
	if o.Sink != "" {
		e.sink = o.Sink
	}
	e.dial = o.Dial
	if e.dial == nil {
		d := net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}
		e.dial = d.DialContext
	}
	var err error
	if e.tls, err = tlsConfig(r, false); err != nil {
		return nil, err
	}
	if e.dict, err = LoadDict(r.ZstdDict); err != nil {
		return nil, err
	}
	for i := range cfg.Tables {
		st, err := e.openStream(&cfg.Tables[i])
		if err != nil {
			e.Close()
			return nil, err
		}
		e.streams[st.t.Name] = st
		e.metrics.init(st.t.Name)
	}
	return e, nil
}

func (e *Edge) openStream(t *config.Table) (*stream, error) {
	dir := filepath.Join(e.cfg.Bridge.StateDir, "spool", t.Name)
	st := &stream{e: e, t: t, log: e.log.With(zap.String("table", t.Name)), guard: keyorder.New(keyorder.Options{})}
	rebuilt := 0
	sp, err := spool.Open(spool.Options{Dir: dir, MaxBytes: e.cfg.Bridge.Relay.SpoolBytes, Logger: st.log},
		func(lsn uint64, payload []byte) error {
			rebuilt++
			return st.remember(lsn, payload)
		})
	if err != nil {
		return nil, fmt.Errorf("relay: spool of table %s: %w", t.Name, err)
	}
	st.sp = sp
	st.acked = sp.Acked()
	st.forgetSpooled(st.acked)
	st.everSent = sp.Durable() // a previous process may have sent any of them
	st.layout.Store(readLayout(filepath.Join(dir, "layout")))
	dropTo, err := readDropMark(dir)
	if err != nil {
		_ = sp.Close()
		return nil, err
	}
	st.dropTo.Store(dropTo)
	if st.comp, err = NewCompressor(e.cfg.Bridge.Relay.ZstdLevel, e.dict); err != nil {
		_ = sp.Close()
		return nil, err
	}
	st.log.Info("relay: spool open", zap.String("dir", dir), zap.Uint64("acked", st.acked), zap.Uint64("durable", sp.Durable()),
		zap.Int64("unacked_bytes", sp.Bytes()), zap.Int("records_replayed_into_order_memory", rebuilt),
		zap.Int32("follower_partitions", st.layout.Load()))
	return st, nil
}

// remember passes a spooled part's entries through the order guard, as the
// server did before spooling them, and counts them as spooled (those
// acknowledged already are uncounted once the spool is open).
func (st *stream) remember(lsn uint64, payload []byte) error {
	p, err := decodePart(st.t.Name, payload)
	if err != nil {
		return err
	}
	st.noteSpooled(lsn, p.Entries)
	it, err := mutation.NewDupIter(p.Body)
	if err != nil {
		return fmt.Errorf("spooled part: %w", err)
	}
	var de mutation.DupEntry
	for it.Next(&de) {
		_, _, _ = st.guard.Filter(0, &de)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("spooled part: %w", err)
	}
	return nil
}

// Guards are the per-table order guards rebuilt from the spools, for
// server.Options.Guards.
func (e *Edge) Guards() map[string]*keyorder.Guard {
	g := make(map[string]*keyorder.Guard, len(e.streams))
	for name, st := range e.streams {
		g[name] = st.guard
	}
	return g
}

// PartitionCount implements server.Shipper: the follower's count as the
// sink last reported it (persisted across restarts); before the first
// report, the table's advertised_partition_count (the sink re-splits parts
// split against another count), else 0 (masters are asked to retry).
func (e *Edge) PartitionCount(table string) int {
	st := e.streams[table]
	if st == nil {
		return 0
	}
	if n := st.layout.Load(); n > 0 {
		return int(n)
	}
	return st.t.AdvertisedPartitionCount
}

// Ship implements server.Shipper: p is appended to its table's spool; done
// runs after the fsync (ack = spool) or after the sink's acknowledgement
// (ack = follower).
func (e *Edge) Ship(p *server.Part, done func(server.PartResult)) {
	if st := e.ship(p, done); st != nil {
		st.sp.Flush()
	}
}

// ShipDeferred implements server.DeferredShipper: the parts decoded in one
// event-loop callback are fsynced together at Flush.
func (e *Edge) ShipDeferred(p *server.Part, done func(server.PartResult)) { e.ship(p, done) }

// Flush implements server.DeferredShipper.
func (e *Edge) Flush() {
	for _, st := range e.streams {
		st.sp.Flush()
	}
}

func (e *Edge) ship(p *server.Part, done func(server.PartResult)) *stream {
	st := e.streams[p.Table]
	if st == nil {
		go done(server.PartResult{Status: server.PartFailed, Err: fmt.Errorf("relay: table %s has no spool", p.Table)})
		return nil
	}
	entries := p.Entries
	st.sp.AppendDeferred(appendPart(make([]byte, 0, partHeaderLen+len(p.Body)+4*len(p.Tied)), p), func(lsn uint64, err error) {
		if err == nil {
			st.noteSpooled(lsn, entries)
		}
		switch {
		case err != nil:
			done(server.PartResult{Status: server.PartFailed, Err: fmt.Errorf("relay: spooling: %w", err)})
		case st.t.Ack == config.AckSpool:
			done(server.PartResult{Status: server.PartAcked})
		default:
			st.waitAck(lsn, done)
		}
	})
	return st
}

// Run ships every table's spool to the sink until ctx ends.
func (e *Edge) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, st := range e.streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// Close closes the spools (after the server stopped shipping). Parts still
// waiting for a sink acknowledgement (ack = follower) fail, so that their
// masters resend.
func (e *Edge) Close() error {
	var first error
	for _, st := range e.streams {
		if st.sp == nil {
			continue
		}
		st.failWaiters(errors.New("relay: edge stopping"))
		if err := st.sp.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Collectors are the edge's Prometheus collectors (spool fill level and
// link counters), for server.Options.Collectors.
func (e *Edge) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		spool.Collector{Spools: func() map[string]*spool.Spool {
			m := make(map[string]*spool.Spool, len(e.streams))
			for name, st := range e.streams {
				m[name] = st.sp
			}
			return m
		}},
		e.metrics.shipments, e.metrics.rawBytes, e.metrics.wireBytes, e.metrics.reconnects,
	}
}

// StreamStats describe one table's link.
type StreamStats struct {
	Connected  bool   `json:"connected"`
	Acked      uint64 `json:"acked_lsn"`
	Durable    uint64 `json:"durable_lsn"`
	SpoolBytes int64  `json:"spool_bytes"`
	Waiting    int    `json:"appends_waiting_for_room"`
	Partitions int32  `json:"follower_partitions"`
}

// Stats returns each table's link state (for /status).
func (e *Edge) Stats() map[string]StreamStats {
	out := make(map[string]StreamStats, len(e.streams))
	for name, st := range e.streams {
		out[name] = StreamStats{Connected: st.connected.Load(), Acked: st.sp.Acked(), Durable: st.sp.Durable(),
			SpoolBytes: st.sp.Bytes(), Waiting: st.sp.Waiting(), Partitions: st.layout.Load()}
	}
	return out
}

type edgeMetrics struct {
	shipments, rawBytes, wireBytes, reconnects *prometheus.CounterVec
}

func newEdgeMetrics() *edgeMetrics {
	tl := []string{"table"}
	return &edgeMetrics{
		shipments:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_relay_shipments_total", Help: "Shipments sent to the sink, resends included."}, tl),
		rawBytes:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_relay_raw_bytes_total", Help: "Uncompressed bytes of the shipments sent."}, tl),
		wireBytes:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_relay_wire_bytes_total", Help: "Compressed bytes of the shipments sent (frames included)."}, tl),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_relay_connection_failures_total", Help: "Connections to the sink that failed or ended."}, tl),
	}
}

// init creates table's series at 0, so that a rate over them (no
// connection failure yet) is 0 rather than no data.
func (m *edgeMetrics) init(table string) {
	for _, v := range []*prometheus.CounterVec{m.shipments, m.rawBytes, m.wireBytes, m.reconnects} {
		v.WithLabelValues(table)
	}
}

func readLayout(path string) int32 {
	b, err := os.ReadFile(path)
	if err != nil || len(b) != 4 {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func writeLayout(path string, n int32) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, binary.BigEndian.AppendUint32(nil, uint32(n)), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
