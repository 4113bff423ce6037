package relay

import (
	"bufio"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/server"
)

// SinkOptions configure a Sink.
type SinkOptions struct {
	// Shipper routes parts to the follower (server/follower's Set). Required.
	Shipper server.Shipper
	// Logger; zap.NewNop() when nil.
	Logger *zap.Logger
	// Listen overrides config relay_listen (tests use 127.0.0.1:0).
	Listen string
}

// Sink accepts edges, decompresses their shipments and routes each record
// to the follower through the Shipper, acknowledging cumulatively what the
// follower applied (docs/relay.md §2).
//
// Concurrency contract: one goroutine per connection reads and dispatches;
// acknowledgements arrive on the Shipper's goroutines and are written by a
// per-connection writer. All methods may be called from any goroutine.
type Sink struct {
	cfg     *config.Config
	o       SinkOptions
	log     *zap.Logger
	tls     *tls.Config
	dicts   []*Dict
	dictIDs map[uint32]bool

	mu     sync.Mutex
	tables map[string]*sinkTable
	conns  map[net.Conn]struct{}

	ready chan struct{}
	addr  net.Addr

	metrics *sinkMetrics
}

// sinkTable is the sink's memory of one table's stream (docs/relay.md §2.6).
type sinkTable struct {
	name string
	// inflight are the entries handed to the follower routers and not yet
	// applied (or failed): /duplication's inflight_entries.
	inflight atomic.Int64

	shipMu sync.Mutex // dispatch order = LSN order, across connections

	mu          sync.Mutex
	incarnation uint64
	based       bool
	dispatched  uint64
	applied     uint64
	done        []bool // records applied+1 .. dispatched
	gen         uint64 // bumped by a reset; older completions are ignored
	conn        *sinkConn
}

// NewSink validates the configuration and loads TLS and the dictionary.
func NewSink(cfg *config.Config, o SinkOptions) (*Sink, error) {
	if o.Shipper == nil {
		return nil, errors.New("relay: SinkOptions.Shipper is required")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Listen == "" {
		o.Listen = cfg.Bridge.Relay.Listen
	}
	s := &Sink{cfg: cfg, o: o, log: o.Logger, tables: map[string]*sinkTable{}, conns: map[net.Conn]struct{}{},
		dictIDs: map[uint32]bool{}, ready: make(chan struct{}), metrics: newSinkMetrics()}
	var err error
	if s.tls, err = tlsConfig(&cfg.Bridge.Relay, true); err != nil {
		return nil, err
	}
	d, err := LoadDict(cfg.Bridge.Relay.ZstdDict)
	if err != nil {
		return nil, err
	}
	if d != nil {
		s.dicts = append(s.dicts, d)
		s.dictIDs[d.ID] = true
	}
	for i := range cfg.Tables {
		s.tables[cfg.Tables[i].Name] = &sinkTable{name: cfg.Tables[i].Name}
	}
	return s, nil
}

// Ready is closed once the sink listens; Addr is then its address.
func (s *Sink) Ready() <-chan struct{} { return s.ready }

// Addr is the bound address, nil before Ready.
func (s *Sink) Addr() net.Addr { return s.addr }

// Collectors are the sink's Prometheus collectors.
func (s *Sink) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.shipments, s.metrics.records, s.metrics.refused}
}

// Run accepts edges until ctx ends, then closes every connection.
func (s *Sink) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.o.Listen)
	if err != nil {
		return fmt.Errorf("relay: sink listening on %s: %w", s.o.Listen, err)
	}
	s.addr = ln.Addr()
	close(s.ready)
	s.log.Info("relay: sink listening for edges", zap.Stringer("addr", ln.Addr()), zap.Bool("tls", s.tls != nil))
	stop := context.AfterFunc(ctx, func() {
		_ = ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	var wg sync.WaitGroup
	for {
		c, err := ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("relay: sink accepting: %w", err)
		}
		if s.tls != nil {
			c = tls.Server(c, s.tls)
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(ctx, c)
			_ = c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// refuse is the one refusal step: log why with the peer, count, tell the
// edge, and let the caller close.
func (s *Sink) refuse(c net.Conn, log *zap.Logger, reason string, err error) {
	s.metrics.refused.Inc()
	log.Warn("relay: edge refused", zap.String("reason", reason), zap.Error(err))
	msg := reason
	if err != nil {
		msg += ": " + err.Error()
	}
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(AppendRefuse(nil, msg))
}

// serve runs one edge connection.
func (s *Sink) serve(ctx context.Context, c net.Conn) {
	log := s.log.With(zap.String("edge", c.RemoteAddr().String()))
	br := bufio.NewReaderSize(c, 256<<10)
	_ = c.SetDeadline(time.Now().Add(dialTimeout))
	if tc, ok := c.(*tls.Conn); ok {
		if err := tc.HandshakeContext(ctx); err != nil {
			s.metrics.refused.Inc()
			log.Warn("relay: edge refused: TLS handshake failed (certificate not signed by relay_tls_ca, or none)", zap.Error(err))
			return
		}
	}
	typ, body, _, err := ReadFrame(br, nil, maxSmallFrame)
	if err != nil {
		s.refuse(c, log, "no HELLO", err)
		return
	}
	if typ != TypeHello {
		s.refuse(c, log, fmt.Sprintf("frame type %d before HELLO", typ), nil)
		return
	}
	h, err := DecodeHello(body)
	if err != nil {
		s.refuse(c, log, "malformed HELLO", err)
		return
	}
	st, reason := s.admit(&h)
	if st == nil {
		s.refuse(c, log, reason, nil)
		return
	}
	log = log.With(zap.String("table", h.Table), zap.Uint64("incarnation", h.Incarnation))
	if _, err := c.Write((&Welcome{Version: Version, DictID: h.DictID}).Append(nil)); err != nil {
		log.Warn("relay: writing WELCOME", zap.Error(err))
		return
	}
	_ = c.SetDeadline(time.Time{})
	sc := newSinkConn(c)
	if prev, fresh := st.attach(h.Incarnation, sc); fresh && prev != 0 {
		log.Warn("relay: a different edge spool for this table (recreated, or a second edge): its LSNs start afresh",
			zap.Uint64("previous_incarnation", prev))
	}
	log.Info("relay: edge connected")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go sc.writeLoop(wctx, st, s.o.Shipper)
	err = s.readShipments(ctx, c, br, st, sc, log)
	st.detach(sc)
	if err != nil && ctx.Err() == nil {
		log.Warn("relay: edge connection ended; the edge resends what is unacknowledged", zap.Error(err))
	}
}

// admit checks a HELLO (docs/relay.md §2.3) and returns the table, or why not.
func (s *Sink) admit(h *Hello) (*sinkTable, string) {
	if h.Version != Version {
		return nil, fmt.Sprintf("protocol version %d not supported: this sink speaks version %d", h.Version, Version)
	}
	if subtle.ConstantTimeCompare([]byte(h.Token), []byte(s.cfg.Bridge.Relay.Token)) != 1 {
		return nil, "wrong relay_token"
	}
	st := s.tables[h.Table]
	if st == nil {
		return nil, fmt.Sprintf("table %q is not configured at the sink", h.Table)
	}
	if h.DictID != 0 && !s.dictIDs[h.DictID] {
		return nil, fmt.Sprintf("zstd dictionary %d is not loaded at the sink (relay_zstd_dict)", h.DictID)
	}
	return st, ""
}

// readShipments reads and dispatches shipments until the connection fails.
func (s *Sink) readShipments(ctx context.Context, c net.Conn, br *bufio.Reader, st *sinkTable, sc *sinkConn, log *zap.Logger) error {
	max := s.cfg.Bridge.Relay.MaxShipment
	dec, err := NewDecompressor(max, s.dicts...)
	if err != nil {
		return err
	}
	defer dec.Close()
	var buf, raw []byte
	for {
		_ = c.SetReadDeadline(time.Now().Add(readTimeout))
		typ, body, nb, err := ReadFrame(br, buf, max)
		buf = nb
		if err != nil {
			if errors.Is(err, ErrProtocol) {
				s.refuse(c, log, "bad frame", err)
			}
			return err
		}
		switch typ {
		case TypePing:
			sc.kick()
			continue
		case TypeShipment:
		default:
			s.refuse(c, log, fmt.Sprintf("unexpected frame type %d", typ), nil)
			return fmt.Errorf("%w: frame type %d", ErrProtocol, typ)
		}
		h, data, err := DecodeShipment(body)
		if err == nil {
			raw, err = dec.Decompress(raw, data, int(h.RawLen))
		}
		var recs []sinkRecord
		if err == nil {
			recs, err = parseRecords(st.name, h, raw)
		}
		if err != nil {
			reason := "shipment refused"
			if errors.Is(err, ErrTooLarge) {
				reason = "shipment refused by the zip-bomb guard (relay_max_shipment)"
			}
			s.refuse(c, log.With(zap.Uint64("first_lsn", h.FirstLSN)), reason, err)
			return err
		}
		if err := s.waitOpen(ctx, st.name); err != nil {
			return err
		}
		if err := st.dispatch(h, recs, s.o.Shipper, log); err != nil {
			s.refuse(c, log, "shipment out of sequence", err)
			return err
		}
		s.metrics.shipments.Inc()
		s.metrics.records.Add(float64(len(recs)))
		sc.kick()
	}
}

// waitOpen holds shipments until the follower table is open (the router
// knows its layout), so that none fails for that reason.
func (s *Sink) waitOpen(ctx context.Context, table string) error {
	for s.o.Shipper.PartitionCount(table) == 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// sinkRecord is one record of a shipment: its parts are owned copies.
type sinkRecord struct {
	lsn   uint64
	parts []*server.Part
}

// parseRecords decodes every record of a shipment before anything is
// dispatched, so that a bad shipment is refused whole. A resent shipment's
// PUT and MULTI_PUT entries get verify_timetag (docs/relay.md §2.7).
func parseRecords(table string, h ShipmentHeader, raw []byte) ([]sinkRecord, error) {
	recs := make([]sinkRecord, 0, h.Records)
	err := splitShipment(raw, h.FirstLSN, h.Records, func(lsn uint64, payload []byte) error {
		p, err := decodePart(table, payload)
		if err != nil {
			return fmt.Errorf("LSN %d: %w", lsn, err)
		}
		if p.Entries == 0 {
			recs = append(recs, sinkRecord{lsn: lsn}) // every write superseded: nothing to apply
			return nil
		}
		p.Body = append([]byte(nil), p.Body...) // raw is reused for the next shipment
		parts := []*server.Part{p}
		if h.Flags&FlagResend != 0 {
			if parts, err = markVerify(p); err != nil {
				return fmt.Errorf("LSN %d: %w", lsn, err)
			}
		}
		recs = append(recs, sinkRecord{lsn: lsn, parts: parts})
		return nil
	})
	return recs, err
}

// markVerify re-encodes p with verify_timetag on every PUT and MULTI_PUT
// entry not marked yet, except tied ones (an equal timetag would make the
// follower keep the wrong one of two updates, docs/relay.md §2.7), split so
// that no body passes the follower's write limit.
func markVerify(p *server.Part) ([]*server.Part, error) {
	it, err := mutation.NewDupIter(p.Body)
	if err != nil {
		return nil, err
	}
	limit := config.FollowerWriteLimit - 256
	var out []*server.Part
	var w mutation.DupRequestWriter
	open := false
	var e mutation.DupEntry
	tied := map[int]bool{}
	for _, i := range p.Tied {
		tied[i] = true
	}
	flush := func() {
		q := *p
		q.Body, q.Entries, q.Hashes, q.Tied = w.Finish(), w.Len(), nil, nil
		out = append(out, &q)
		open = false
	}
	for i := 0; it.Next(&e); i++ {
		mark := e.Code().IsPut() && !e.VerifyTimetag && !tied[i]
		size := len(e.Raw) + 4
		if open && w.Size()+size > limit {
			flush()
		}
		if !open {
			w.Begin(make([]byte, 0, min(len(p.Body)+4*p.Entries, limit)+16), it.WrapperID())
			open = true
		}
		if mark {
			e.VerifyTimetag, e.HasVerifyTimetag = true, true
			w.AppendEntry(&e)
		} else {
			w.AppendRaw(e.Raw)
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if open {
		flush()
	}
	return out, nil
}

// attach makes sc the connection that receives this table's ACKs, closing
// an older one; a new incarnation (a recreated edge spool) starts afresh,
// and attach then reports the previous one.
func (st *sinkTable) attach(incarnation uint64, sc *sinkConn) (prev uint64, fresh bool) {
	st.mu.Lock()
	old := st.conn
	st.conn = sc
	prev = st.incarnation
	if st.incarnation != incarnation {
		st.incarnation, st.based, fresh = incarnation, false, true
		st.gen++
		st.done = nil
	}
	st.mu.Unlock()
	if old != nil {
		_ = old.c.Close()
	}
	return prev, fresh
}

func (st *sinkTable) detach(sc *sinkConn) {
	st.mu.Lock()
	if st.conn == sc {
		st.conn = nil
	}
	st.mu.Unlock()
}

// dispatch hands a shipment's new records to the shipper in LSN order.
func (st *sinkTable) dispatch(h ShipmentHeader, recs []sinkRecord, sh server.Shipper, log *zap.Logger) error {
	st.shipMu.Lock()
	defer st.shipMu.Unlock()
	st.mu.Lock()
	if !st.based {
		st.applied, st.dispatched, st.based = h.FirstLSN-1, h.FirstLSN-1, true
	}
	if h.FirstLSN > st.dispatched+1 {
		err := fmt.Errorf("%w: shipment starts at LSN %d, the sink expects %d or earlier", ErrProtocol, h.FirstLSN, st.dispatched+1)
		st.mu.Unlock()
		return err
	}
	gen := st.gen
	start := 0
	for start < len(recs) && recs[start].lsn <= st.dispatched {
		start++ // already applied or on its way
	}
	recs = recs[start:]
	for range recs {
		st.done = append(st.done, false)
	}
	if len(recs) > 0 {
		st.dispatched = recs[len(recs)-1].lsn
	}
	st.mu.Unlock()

	ds, deferred := sh.(server.DeferredShipper)
	for _, r := range recs {
		if len(r.parts) == 0 {
			st.complete(gen, r.lsn, false)
			continue
		}
		var left atomic.Int32
		left.Store(int32(len(r.parts)))
		lsn := r.lsn
		var failed atomic.Bool
		for _, p := range r.parts {
			st.inflight.Add(int64(p.Entries))
		}
		done := func(res server.PartResult) {
			if res.Status == server.PartFailed {
				failed.Store(true)
				log.Warn("relay: follower did not apply a part; the edge resends from the last acknowledgement", zap.Uint64("lsn", lsn), zap.Error(res.Err))
			}
			if left.Add(-1) == 0 {
				st.complete(gen, lsn, failed.Load())
			}
		}
		for _, p := range r.parts {
			entries := int64(p.Entries)
			done := func(res server.PartResult) { st.inflight.Add(-entries); done(res) }
			if deferred {
				ds.ShipDeferred(p, done)
			} else {
				sh.Ship(p, done)
			}
		}
	}
	if deferred && len(recs) > 0 {
		ds.Flush()
	}
	return nil
}

// complete records that lsn ended; a failure resets the stream to the last
// applied record and drops the edge's connection so that it resends.
func (st *sinkTable) complete(gen, lsn uint64, failed bool) {
	st.mu.Lock()
	if gen != st.gen || lsn <= st.applied {
		st.mu.Unlock()
		return
	}
	sc := st.conn
	if failed {
		st.gen++
		st.dispatched = st.applied
		st.done = nil
		st.mu.Unlock()
		if sc != nil {
			_ = sc.c.Close()
		}
		return
	}
	st.done[lsn-st.applied-1] = true
	n := 0
	for n < len(st.done) && st.done[n] {
		n++
	}
	st.done = st.done[n:]
	st.applied += uint64(n)
	st.mu.Unlock()
	if n > 0 && sc != nil {
		sc.kick()
	}
}

func (st *sinkTable) appliedLSN() (uint64, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.applied, st.based
}

// sinkConn writes ACKs and LAYOUTs to one edge connection.
type sinkConn struct {
	c    net.Conn
	wake chan struct{}
}

func newSinkConn(c net.Conn) *sinkConn { return &sinkConn{c: c, wake: make(chan struct{}, 1)} }

func (sc *sinkConn) kick() {
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

// writeLoop sends ACK when the applied watermark moved, and LAYOUT when the
// follower's partition count changed, at once and at least every second.
func (sc *sinkConn) writeLoop(ctx context.Context, st *sinkTable, sh server.Shipper) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var sentAck uint64
	sentLayout := int32(-1)
	for {
		var frame []byte
		if n := int32(sh.PartitionCount(st.name)); n != sentLayout {
			frame = AppendLayout(frame, n)
			sentLayout = n
		}
		if a, ok := st.appliedLSN(); ok && a > sentAck {
			frame = AppendAck(frame, a)
			sentAck = a
		}
		if len(frame) > 0 {
			_ = sc.c.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := sc.c.Write(frame); err != nil {
				_ = sc.c.Close()
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-sc.wake:
		case <-tick.C:
			sentLayout = -1 // answers pings and keeps the edge's reader alive
		}
	}
}

type sinkMetrics struct {
	shipments, records, refused prometheus.Counter
}

func newSinkMetrics() *sinkMetrics {
	return &sinkMetrics{
		shipments: prometheus.NewCounter(prometheus.CounterOpts{Name: "dupbridge_relay_sink_shipments_total", Help: "Shipments received from edges and dispatched."}),
		records:   prometheus.NewCounter(prometheus.CounterOpts{Name: "dupbridge_relay_sink_records_total", Help: "Spool records received from edges (resent ones included)."}),
		refused:   prometheus.NewCounter(prometheus.CounterOpts{Name: "dupbridge_relay_sink_refused_total", Help: "Edge connections or shipments refused (token, version, TLS, dictionary, zip-bomb guard, malformed)."}),
	}
}

// SinkTableStatus is the sink's view of one table's stream.
type SinkTableStatus struct {
	Connected  bool   `json:"connected"`
	Dispatched uint64 `json:"dispatched_lsn"`
	Applied    uint64 `json:"applied_lsn"`
}

// Status returns each table's stream state (for /status).
func (s *Sink) Status() map[string]SinkTableStatus {
	out := make(map[string]SinkTableStatus, len(s.tables))
	for name, st := range s.tables {
		st.mu.Lock()
		out[name] = SinkTableStatus{Connected: st.conn != nil, Dispatched: st.dispatched, Applied: st.applied}
		st.mu.Unlock()
	}
	return out
}
