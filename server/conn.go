package server

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
)

// loopConn is the part of gnet.Conn the decode/dispatch path uses; tests
// and the fuzz target drive the path through a fake. Every method is called
// inside a gnet callback of the connection except Wake, which is
// concurrency-safe.
type loopConn interface {
	InboundBuffered() int
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
	Write(b []byte) (int, error)
	OutboundBuffered() int
	Wake(cb gnet.AsyncCallback) error
}

// connState is one client connection (a master meta, a master replica
// server's duplicator, a tool).
//
// Concurrency contract: the fields above the mutex belong to the
// connection's event loop and are touched only inside gnet callbacks of this
// connection. outbox is filled by any goroutine (ack callbacks) under mu and
// drained by the loop; wakePending and closed are atomics.
type connState struct {
	s      *Server
	c      loopConn
	remote string
	dec    codec.Decoder

	wbuf    []byte     // replies gathered during one OnTraffic, written at once
	entries []entryRef // per-request scratch of the replica face
	parts   []*partBuild
	byPart  map[int]*partBuild
	// isStalled: decoding stopped at the in-flight cap (counts stalls once).
	isStalled bool
	needFlush bool // parts were shipped deferred in this callback (DeferredShipper)
	// hostPort: partition configurations sent to this peer carry the hp_*
	// fields (send_host_port, unless the peer is in legacy_peers).
	hostPort bool

	mu     sync.Mutex
	outbox [][]byte // replies completed off the loop, in completion order

	wakePending atomic.Bool
	closed      atomic.Bool
}

func newConnState(s *Server, c loopConn, remote string) *connState {
	return &connState{
		s:        s,
		c:        c,
		dec:      codec.Decoder{Role: codec.RoleServer, MaxFrameSize: s.cfg.Bridge.MaxFrameSize},
		byPart:   map[int]*partBuild{},
		remote:   remote,
		hostPort: s.sendsHostPort(remote),
	}
}

// sendsHostPort reports whether the peer at remote (host:port) gets the
// hp_* fields of partition configurations (wire.md §4.1). Any goroutine.
func (s *Server) sendsHostPort(remote string) bool {
	if !s.cfg.Bridge.SendHostPort {
		return false
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return true
	}
	a := ap.Addr().Unmap()
	for _, pf := range s.cfg.Bridge.LegacyPeers {
		if pf.Contains(a) {
			return false
		}
	}
	return true
}

// post queues a completed reply and wakes the loop. Any goroutine. The
// reply is owned by the connection afterwards.
func (cs *connState) post(reply []byte) {
	if cs.closed.Load() {
		cs.s.stats.repliesLost.Add(1)
		return
	}
	cs.mu.Lock()
	cs.outbox = append(cs.outbox, reply)
	cs.mu.Unlock()
	cs.wake()
}

// wake makes gnet call OnTraffic for this connection soon; wakes coalesce
// while one is pending. Any goroutine.
func (cs *connState) wake() {
	if cs.closed.Load() || !cs.wakePending.CompareAndSwap(false, true) {
		return
	}
	if err := cs.c.Wake(nil); err != nil {
		cs.wakePending.Store(false)
	}
}

// hasOutbox reports whether replies wait to be written. Any goroutine.
func (cs *connState) hasOutbox() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.outbox) > 0
}

// onTraffic writes waiting replies, then decodes and dispatches complete
// frames straight from gnet's inbound buffer (Peek, decode in place,
// Discard). Frames stay in gnet's buffer, undecoded, while the in-flight
// cap is reached or the server drains. Event-loop only.
func (cs *connState) onTraffic() gnet.Action {
	// Clear the flag before draining the outbox so that a reply posted
	// after the drain always triggers another wake (no lost wake-up).
	cs.wakePending.Store(false)
	cs.mu.Lock()
	out := cs.outbox
	cs.outbox = nil
	cs.mu.Unlock()
	for _, r := range out {
		cs.wbuf = append(cs.wbuf, r...)
	}

	action := cs.decodeFrames()
	if len(cs.wbuf) > 0 {
		// Inside the loop gnet writes to the socket directly and copies
		// only what the kernel did not take; wbuf is reusable afterwards.
		if _, err := cs.c.Write(cs.wbuf); err != nil {
			action = gnet.Close
		}
		if cap(cs.wbuf) > 1<<20 {
			cs.wbuf = nil // do not pin a large buffer per connection
		} else {
			cs.wbuf = cs.wbuf[:0]
		}
	}
	return action
}

func (cs *connState) decodeFrames() gnet.Action {
	s := cs.s
	if s.draining.Load() {
		return gnet.None
	}
	if cs.c.OutboundBuffered() > s.opts.MaxOutbound {
		// The peer does not read its replies: stop reading its requests
		// (style.md: gnet's outbound buffer is unbounded).
		if !cs.isStalled {
			s.stats.stalls.Add(1)
		}
		cs.isStalled = true
		s.block(cs)
		return gnet.None
	}
	n := cs.c.InboundBuffered()
	if n == 0 {
		return gnet.None
	}
	buf, err := cs.c.Peek(n)
	if err != nil {
		return gnet.None
	}
	consumed := 0
	action := gnet.None
	for consumed < len(buf) {
		f, size, err := cs.dec.Decode(buf[consumed:])
		if errors.Is(err, codec.ErrNeedMore) {
			break
		}
		if err != nil {
			s.stats.framingErrors.Add(1)
			s.log.Warn("closing connection: framing error", zap.String("remote", cs.remote), zap.Error(err))
			action = gnet.Close
			break
		}
		if !cs.dispatch(&f, size) {
			// Over the in-flight cap: leave this frame in gnet's buffer.
			break
		}
		consumed += size
	}
	if consumed > 0 {
		_, _ = cs.c.Discard(consumed)
	}
	if cs.needFlush {
		cs.needFlush = false
		s.shipper.(DeferredShipper).Flush()
	}
	return action
}

// dispatch handles one request frame; f aliases gnet's buffer and is only
// valid during this call. It returns false when the frame was not taken
// (in-flight cap reached): the caller leaves it in the buffer. Event-loop
// only.
func (cs *connState) dispatch(f *codec.Frame, size int) bool {
	s := cs.s
	if !f.IsRequest {
		// A response on the server port (a forwarded reply, wire.md §1.10):
		// we never send requests from here, so nothing waits for it.
		s.stats.strayResponses.Add(1)
		return true
	}
	if s.opts.Face != nil && s.opts.Face.Serve(f, &Responder{cs: cs, f: f}) {
		return true
	}
	switch string(f.RPCName) {
	case codec.RPCDuplicate:
		return cs.onDuplicate(f, size)
	case codec.RPCQueryPartitionConfigByIndex:
		s.stats.queryConfig.Add(1)
		cs.onQueryConfig(f)
	case codec.RPCListApps:
		s.stats.listApps.Add(1)
		cs.onListApps(f)
	case codec.RPCCreateApp:
		s.stats.createApp.Add(1)
		cs.onCreateApp(f)
	default:
		if cs.onStorage(f) { // client reads and writes (reads.go)
			return true
		}
		// rpc_engine::on_recv_request: unknown name → ERR_HANDLER_NOT_FOUND,
		// name+"_ACK", empty body (wire.md §1.3).
		s.stats.unknownRPCs.Add(1)
		s.log.Debug("unknown rpc", zap.ByteString("rpc", f.RPCName), zap.String("remote", cs.remote))
		cs.replyNow(f, codec.ErrorHandlerNotFound, nil)
	}
	return true
}

// replyNow appends a response to f to this OnTraffic's write buffer.
// body is the result wrapper, nil for RPC-level errors. Event-loop only.
func (cs *connState) replyNow(f *codec.Frame, errName string, body []byte) {
	cs.wbuf = codec.AppendResponse(cs.wbuf, f, errName, cs.s.from, body)
}

// beginLater builds the header of an ERR_OK response to f into a fresh
// buffer that outlives f, so that the body can be appended when the work
// completes on another goroutine (FinishResponse then patches lengths).
// This is the one copy of request bytes that leaves the loop for replies.
// Event-loop only.
func (cs *connState) beginLater(f *codec.Frame, capHint int) ([]byte, int) {
	b := make([]byte, 0, codec.RDSNHeaderSize+len(f.RPCName)+32+capHint)
	return codec.BeginResponse(b, f, codec.ErrorOK, cs.s.from)
}
