package relay

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/keyorder"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/server"
	"github.com/dupbridge/dupbridge/spool"
)

// Timing of a connection to the sink.
const (
	dialTimeout   = 5 * time.Second
	pingEvery     = 2 * time.Second
	readTimeout   = 15 * time.Second // several pings without any answer
	writeTimeout  = 30 * time.Second
	backoffMin    = 100 * time.Millisecond
	backoffMax    = 5 * time.Second
	healthySpan   = 10 * time.Second // a session this long resets the backoff
	maxSmallFrame = 64 << 10         // frames other than SHIPMENT
)

// stream is one table's link: its spool, order guard, learned layout and
// the connection loop that ships the spool to the sink.
type stream struct {
	e     *Edge
	t     *config.Table
	log   *zap.Logger
	sp    *spool.Spool
	guard *keyorder.Guard
	comp  *Compressor

	layout    atomic.Int32
	connected atomic.Bool
	ackedLSN  atomic.Uint64
	dropTo    atomic.Uint64 // records up to it are sent empty (DropSpool); set under mu

	mu      sync.Mutex
	acked   uint64
	waiters []ackWaiter // ack = follower: parts waiting for the sink, in LSN order
	// durable records not acknowledged by the sink, in LSN order, and the
	// sum of their entries (spooled.go)
	spooled        []spooledRecord
	spooledEntries int64

	// connection loop only
	everSent  uint64
	raw, zbuf []byte
}

type ackWaiter struct {
	lsn  uint64
	done func(server.PartResult)
}

// waitAck calls done once the sink acknowledged lsn. Any goroutine.
func (st *stream) waitAck(lsn uint64, done func(server.PartResult)) {
	st.mu.Lock()
	if lsn <= st.dropTo.Load() {
		st.mu.Unlock()
		done(server.PartResult{Status: server.PartFailed, Err: errTableRemoved})
		return
	}
	if lsn <= st.acked {
		st.mu.Unlock()
		done(server.PartResult{Status: server.PartAcked})
		return
	}
	st.waiters = append(st.waiters, ackWaiter{lsn, done})
	st.mu.Unlock()
}

// onAck applies a cumulative acknowledgement.
func (st *stream) onAck(lsn uint64) {
	st.mu.Lock()
	if lsn <= st.acked {
		st.mu.Unlock()
		return
	}
	st.acked = lsn
	st.forgetSpooled(lsn)
	i := 0
	for i < len(st.waiters) && st.waiters[i].lsn <= lsn {
		i++
	}
	ready := st.waiters[:i:i]
	st.waiters = st.waiters[i:]
	st.mu.Unlock()
	st.sp.Ack(lsn)
	st.ackedLSN.Store(lsn)
	for _, w := range ready {
		w.done(server.PartResult{Status: server.PartAcked})
	}
}

func (st *stream) failWaiters(err error) {
	st.mu.Lock()
	ws := st.waiters
	st.waiters = nil
	st.mu.Unlock()
	for _, w := range ws {
		w.done(server.PartResult{Status: server.PartFailed, Err: err})
	}
}

func (st *stream) setLayout(n int32) {
	if n <= 0 || st.layout.Swap(n) == n {
		return // 0: the sink has not opened the follower table yet; keep what we know
	}
	st.log.Info("relay: follower layout from the sink", zap.Int32("partitions", n))
	if err := writeLayout(filepath.Join(st.sp.Dir(), "layout"), n); err != nil {
		st.log.Warn("relay: saving the follower layout failed", zap.Error(err))
	}
}

// run connects to the sink and ships until ctx ends, reconnecting with
// capped backoff (docs/relay.md §2.6).
func (st *stream) run(ctx context.Context) {
	st.ackedLSN.Store(st.sp.Acked())
	backoff := backoffMin
	for ctx.Err() == nil {
		start := time.Now()
		err := st.session(ctx)
		st.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		st.e.metrics.reconnects.WithLabelValues(st.t.Name).Inc()
		if time.Since(start) > healthySpan {
			backoff = backoffMin
		}
		msg := "relay: link to the sink down; the spool keeps every write, and everything unacknowledged is resent after reconnect"
		if isRefused(err) {
			msg = "relay: the sink refused this edge; fix the configuration named in the reason (the spool keeps every write)"
			backoff = backoffMax
		}
		st.log.Warn(msg, zap.String("sink", st.e.sink), zap.Error(err), zap.Uint64("acked_lsn", st.sp.Acked()),
			zap.Int64("spool_bytes", st.sp.Bytes()), zap.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, backoffMax)
	}
}

// dial opens a connection and completes TLS.
func (st *stream) dial(ctx context.Context) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	c, err := st.e.dial(dctx, "tcp", st.e.sink)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", st.e.sink, err)
	}
	if st.e.tls == nil {
		return c, nil
	}
	tc := tls.Client(c, st.e.tls)
	hctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = c.Close()
		return nil, &RefusedError{Reason: fmt.Sprintf("TLS handshake with %s: %v", st.e.sink, err)}
	}
	return tc, nil
}

// handshake sends HELLO and reads WELCOME or REFUSE (docs/relay.md §2.3).
func (st *stream) handshake(c net.Conn, br *bufio.Reader) error {
	var dictID uint32
	if st.e.dict != nil {
		dictID = st.e.dict.ID
	}
	h := Hello{Version: Version, Token: st.e.cfg.Bridge.Relay.Token, Table: st.t.Name, Incarnation: st.sp.ID(), DictID: dictID}
	_ = c.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := c.Write(h.Append(nil)); err != nil {
		return fmt.Errorf("sending HELLO: %w", err)
	}
	typ, body, _, err := ReadFrame(br, nil, maxSmallFrame)
	if err != nil {
		return fmt.Errorf("reading the sink's answer to HELLO: %w", err)
	}
	switch typ {
	case TypeRefuse:
		reason, err := DecodeRefuse(body)
		if err != nil {
			return err
		}
		return &RefusedError{Reason: reason}
	case TypeWelcome:
		w, err := DecodeWelcome(body)
		if err != nil {
			return err
		}
		if w.Version != Version || w.DictID != dictID {
			return &RefusedError{Reason: fmt.Sprintf("sink answered version %d, dictionary %d; this edge speaks version %d, dictionary %d", w.Version, w.DictID, Version, dictID)}
		}
		_ = c.SetDeadline(time.Time{})
		return nil
	}
	return fmt.Errorf("%w: frame type %d in answer to HELLO", ErrProtocol, typ)
}

// session runs one connection: handshake, then shipments from acked+1 with
// a window, while a reader applies ACKs and LAYOUTs.
func (st *stream) session(ctx context.Context) error {
	c, err := st.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() }) // unblocks a write to a silent sink
	defer stop()
	br := bufio.NewReaderSize(c, 64<<10)
	if err := st.handshake(c, br); err != nil {
		return err
	}
	st.connected.Store(true)
	st.log.Info("relay: connected to the sink", zap.String("sink", st.e.sink), zap.Uint64("resend_from_lsn", st.sp.Acked()+1))

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	acks := make(chan struct{}, 1)
	go func() {
		errc <- st.readLoop(c, br, acks)
		cancel()
	}()
	err = st.sendLoop(sctx, c, acks)
	_ = c.Close() // ends the reader
	if rerr := <-errc; errors.Is(err, errReaderEnded) {
		return rerr
	}
	return err
}

var errReaderEnded = errors.New("relay: connection reader ended")

// readLoop applies what the sink sends until the connection fails.
func (st *stream) readLoop(c net.Conn, br *bufio.Reader, acks chan<- struct{}) error {
	var buf []byte
	for {
		_ = c.SetReadDeadline(time.Now().Add(readTimeout))
		typ, body, nb, err := ReadFrame(br, buf, maxSmallFrame)
		buf = nb
		if err != nil {
			return fmt.Errorf("reading from the sink: %w", err)
		}
		switch typ {
		case TypeAck:
			lsn, err := DecodeAck(body)
			if err != nil {
				return err
			}
			st.onAck(lsn)
			select {
			case acks <- struct{}{}:
			default:
			}
		case TypeLayout:
			n, err := DecodeLayout(body)
			if err != nil {
				return err
			}
			st.setLayout(n)
		case TypeRefuse:
			reason, err := DecodeRefuse(body)
			if err != nil {
				return err
			}
			return &RefusedError{Reason: reason}
		default:
			return fmt.Errorf("%w: unexpected frame type %d from the sink", ErrProtocol, typ)
		}
	}
}

type inflight struct {
	last uint64
	raw  int
}

// sendLoop sends shipments within the window (docs/relay.md §2.4, §2.5).
func (st *stream) sendLoop(ctx context.Context, c net.Conn, acks <-chan struct{}) error {
	r := &st.e.cfg.Bridge.Relay
	rd := st.sp.NewReader(st.sp.Acked() + 1)
	defer rd.Close()
	var window []inflight
	windowBytes := 0
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	lastSend := time.Now()
	for {
		acked := st.ackedLSN.Load()
		for len(window) > 0 && window[0].last <= acked {
			windowBytes -= window[0].raw
			window = window[1:]
		}
		if len(window) >= r.WindowShipments || int64(windowBytes) >= r.WindowBytes {
			select {
			case <-ctx.Done():
				return errReaderEnded
			case <-acks:
			case <-ping.C:
				if err := st.write(c, AppendFrame(nil, TypePing, nil)); err != nil {
					return err
				}
			}
			continue
		}
		first, n, err := st.build(ctx, rd, r)
		if err != nil {
			return err
		}
		if n == 0 { // idle: keep the link alive
			if time.Since(lastSend) >= pingEvery {
				if err := st.write(c, AppendFrame(nil, TypePing, nil)); err != nil {
					return err
				}
				lastSend = time.Now()
			}
			continue
		}
		last := first + uint64(n) - 1
		h := ShipmentHeader{FirstLSN: first, Records: uint32(n), RawLen: uint32(len(st.raw))}
		if first <= st.everSent {
			h.Flags |= FlagResend
		}
		st.zbuf = st.comp.Compress(st.zbuf[:0], st.raw)
		frame := AppendShipment(nil, h, st.zbuf)
		if err := st.write(c, frame); err != nil {
			return err
		}
		lastSend = time.Now()
		st.everSent = max(st.everSent, last)
		window = append(window, inflight{last: last, raw: len(st.raw)})
		windowBytes += len(st.raw)
		m := st.e.metrics
		m.shipments.WithLabelValues(st.t.Name).Inc()
		m.rawBytes.WithLabelValues(st.t.Name).Add(float64(len(st.raw)))
		m.wireBytes.WithLabelValues(st.t.Name).Add(float64(len(frame)))
	}
}

func (st *stream) write(c net.Conn, frame []byte) error {
	_ = c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.Write(frame); err != nil {
		return fmt.Errorf("writing to the sink: %w", err)
	}
	return nil
}

// build reads durable records into st.raw until relay_batch_bytes, or until
// relay_linger passed since the first one; n == 0 when nothing arrived for
// pingEvery.
func (st *stream) build(ctx context.Context, rd *spool.Reader, r *config.Relay) (first uint64, n int, err error) {
	st.raw = st.raw[:0]
	idle := time.NewTimer(pingEvery)
	defer idle.Stop()
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		notify := st.sp.Notify()
		lsn, payload, err := rd.Next()
		if err == nil {
			if n == 0 {
				first, linger = lsn, time.NewTimer(r.Linger)
			}
			switch {
			case lsn <= st.dropTo.Load():
				if payload, err = emptyPart(st.t.Name, payload); err != nil {
					return 0, 0, fmt.Errorf("spool record %d: %w", lsn, err)
				}
			case lsn <= st.everSent:
				if payload, err = st.trim(payload); err != nil {
					return 0, 0, fmt.Errorf("spool record %d: %w", lsn, err)
				}
			}
			st.raw = appendShipRecord(st.raw, lsn, payload)
			n++
			if len(st.raw) >= r.BatchBytes {
				return first, n, nil
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			return 0, 0, fmt.Errorf("reading the spool: %w", err)
		}
		var lingerC <-chan time.Time
		if linger != nil {
			lingerC = linger.C
		}
		select {
		case <-ctx.Done():
			return 0, 0, errReaderEnded
		case <-notify:
		case <-lingerC:
			return first, n, nil
		case <-idle.C:
			if n == 0 {
				return 0, 0, nil
			}
		}
	}
}

// trim leaves out of a record about to be resent every write that a newer
// write of the same key supersedes (keyorder.Guard.Peek): the newer one has
// a higher LSN and follows in the same resend, so the follower never sees
// the older one after the newer, deletes included (docs/relay.md §2.7).
// The payload is returned as it is when nothing is superseded.
func (st *stream) trim(payload []byte) ([]byte, error) {
	p, err := decodePart(st.t.Name, payload)
	if err != nil || p.Entries == 0 {
		return payload, err
	}
	it, err := mutation.NewDupIter(p.Body)
	if err != nil {
		return nil, err
	}
	tied := map[int]bool{}
	for _, i := range p.Tied {
		tied[i] = true
	}
	var w mutation.DupRequestWriter
	w.Begin(make([]byte, 0, len(p.Body)), it.WrapperID())
	var newTied []int
	changed := false
	var e mutation.DupEntry
	for i := 0; it.Next(&e); i++ {
		v, rewritten, err := st.guard.Peek(0, &e)
		switch {
		case err != nil || v == keyorder.Keep:
			w.AppendRaw(e.Raw)
		case v == keyorder.Drop:
			changed = true
			continue
		default:
			changed = true
			e2 := e
			e2.RawMessage = rewritten
			w.AppendEntry(&e2)
		}
		if tied[i] {
			newTied = append(newTied, w.Len()-1)
		}
		if h, err := e.Hash(); err == nil {
			p.PartitionHash = h
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if !changed {
		return payload, nil
	}
	q := *p
	q.Entries, q.Tied, q.Body = w.Len(), newTied, nil
	if q.Entries > 0 {
		q.Body = w.Finish()
	}
	return appendPart(nil, &q), nil
}
