package server

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

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
	Read(p []byte) (int, error)
	Write(b []byte) (int, error)
	OutboundBuffered() int
	Wake(cb gnet.AsyncCallback) error
	Close() error // any goroutine
}

// connState is one client connection (a master meta, a master replica
// server's duplicator, a tool).
//
// Concurrency contract: the fields above the mutex belong to the
// connection's event loop and are touched only inside gnet callbacks of this
// connection. outbox is filled by any goroutine (ack callbacks) under mu and
// drained by the loop; wakePending, closed and the fields below them are
// atomics.
type connState struct {
	s      *Server
	c      loopConn
	remote string
	peer   netip.Addr // the gate's key (listener.go)
	dec    codec.Decoder

	// asm holds a large frame (asmThreshold) as it arrives, asmSize long
	// when whole; nil otherwise (budget.go).
	asm     []byte
	asmSize int
	// inHeld and outHeld are the undecoded and unread bytes last charged
	// (setHeld); outStuck: decoding stopped on unread replies.
	inHeld, outHeld int64
	outStuck        bool

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

	admitted atomic.Int64 // bytes of admitted requests in flight (budget.go)
	// partialSince, outStuckSince and lastActive are UnixNano times read
	// by the sweep (timeouts.go); 0: no partial frame, replies not stuck.
	partialSince, outStuckSince, lastActive atomic.Int64
	closing                                 atomic.Bool // the bridge closes it (counted once)
}

func newConnState(s *Server, c loopConn, remote string) *connState {
	cs := &connState{
		s:        s,
		c:        c,
		dec:      codec.Decoder{Role: codec.RoleServer, MaxFrameSize: s.cfg.Bridge.MaxFrameSize},
		byPart:   map[int]*partBuild{},
		remote:   remote,
		hostPort: s.sendsHostPort(remote),
	}
	cs.lastActive.Store(time.Now().UnixNano())
	return cs
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
	// Replies completed elsewhere go out before new frames are decoded:
	// their masters wait on them, and decoding (and shipping) a batch of
	// new requests first would add its time to their latency
	// (perf-notes.md item 2).
	if cs.flush(gnet.None) != gnet.None {
		return gnet.Close
	}
	action := cs.flush(cs.decodeFrames())
	if action == gnet.None {
		if why, bad := cs.settle(); bad {
			cs.shut(why)
			action = gnet.Close
		}
	}
	return action
}

// flush writes the replies gathered in wbuf, returning action, or Close if
// the write failed. Event-loop only.
func (cs *connState) flush(action gnet.Action) gnet.Action {
	if len(cs.wbuf) == 0 {
		return action
	}
	// Inside the loop gnet writes to the socket directly and copies only
	// what the kernel did not take; wbuf is reusable afterwards.
	if _, err := cs.c.Write(cs.wbuf); err != nil {
		action = gnet.Close
	}
	if cap(cs.wbuf) > 1<<20 {
		cs.wbuf = nil // do not pin a large buffer per connection
	} else {
		cs.wbuf = cs.wbuf[:0]
	}
	return action
}

// shut counts and logs why the bridge closes cs, once. The caller closes
// it (returns gnet.Close on the loop, or calls Close elsewhere). Any
// goroutine.
func (cs *connState) shut(why closeReason) bool {
	if !cs.closing.CompareAndSwap(false, true) {
		return false
	}
	cs.s.refused(why, cs.remote)
	return true
}

// onClose returns everything cs held. Event-loop only (OnClose).
func (cs *connState) onClose() {
	cs.closed.Store(true)
	cs.setHeld(0, 0)
	cs.dropAsm()
}

// decodeFrames decodes and dispatches the frames in gnet's buffer, one at
// a time: it peeks at a header, and at the whole frame only once it has
// arrived (peeking at everything buffered would copy a growing partial
// frame on every callback). Frames above asmThreshold are moved into asm
// as they arrive. Event-loop only.
func (cs *connState) decodeFrames() gnet.Action {
	s := cs.s
	if s.draining.Load() {
		return gnet.None
	}
	now := time.Now().UnixNano()
	if cs.c.InboundBuffered() > 0 {
		cs.lastActive.Store(now)
	}
	if cs.stuckOnOutbound(now) {
		return gnet.None
	}
	defer func() {
		if cs.needFlush {
			cs.needFlush = false
			s.shipper.(DeferredShipper).Flush()
		}
	}()
	for {
		if cs.asm != nil {
			if !cs.fillAsm() {
				cs.markPartial(now)
				return gnet.None
			}
			f, size, err := cs.dec.Decode(cs.asm)
			if err != nil {
				return cs.framingError(err)
			}
			if !cs.dispatch(&f, size) {
				cs.partialSince.Store(0) // whole, waiting for the budget
				return gnet.None
			}
			cs.dropAsm()
			cs.partialSince.Store(0)
			continue
		}
		n := cs.c.InboundBuffered()
		if n == 0 {
			cs.partialSince.Store(0)
			return gnet.None
		}
		hdr, err := cs.c.Peek(min(n, codec.RDSNHeaderSize))
		if err != nil {
			return gnet.None
		}
		size, err := cs.dec.FrameSize(hdr)
		if errors.Is(err, codec.ErrNeedMore) {
			cs.markPartial(now)
			return gnet.None
		}
		if err != nil {
			return cs.framingError(err)
		}
		if size > n {
			if size <= s.asmMin {
				cs.markPartial(now)
				return gnet.None
			}
			if int64(size) > s.maxConn {
				cs.shut(reasonBudget) // can never be admitted
				return gnet.Close
			}
			cs.asm, cs.asmSize = make([]byte, 0, min(size, 4*s.asmMin)), size
			continue
		}
		buf, err := cs.c.Peek(size)
		if err != nil {
			return gnet.None
		}
		f, used, err := cs.dec.Decode(buf)
		if err != nil {
			return cs.framingError(err)
		}
		if !cs.dispatch(&f, used) {
			// Over the in-flight cap: leave this frame in gnet's buffer.
			cs.partialSince.Store(0)
			return gnet.None
		}
		cs.partialSince.Store(0)
		_, _ = cs.c.Discard(used)
	}
}

// fillAsm moves what has arrived of the large frame into asm, growing it
// by doubling up to the frame's size, and reports whether it is whole.
// Event-loop only.
func (cs *connState) fillAsm() bool {
	need := cs.asmSize - len(cs.asm)
	n := min(cs.c.InboundBuffered(), need)
	if n > 0 {
		if len(cs.asm)+n > cap(cs.asm) {
			grown := make([]byte, len(cs.asm), min(cs.asmSize, max(2*cap(cs.asm), len(cs.asm)+n)))
			copy(grown, cs.asm)
			cs.dropAsm()
			cs.asm = grown
		}
		m, _ := cs.c.Read(cs.asm[len(cs.asm) : len(cs.asm)+n])
		cs.asm = cs.asm[:len(cs.asm)+m]
	}
	return len(cs.asm) == cs.asmSize
}

// stuckOnOutbound stops decoding while the peer leaves more than
// MaxOutbound of replies unread (style.md: gnet's outbound buffer is
// unbounded); the sweep closes it if that lasts frame_timeout. Event-loop
// only.
func (cs *connState) stuckOnOutbound(now int64) bool {
	if cs.c.OutboundBuffered() <= cs.s.opts.MaxOutbound {
		cs.outStuck = false
		cs.outStuckSince.Store(0)
		return false
	}
	if !cs.outStuck {
		cs.s.stats.stalls.Add(1)
		cs.outStuckSince.Store(now)
	}
	cs.outStuck = true
	cs.s.block(cs)
	return true
}

// markPartial starts the frame_timeout clock of a frame that has begun to
// arrive. Event-loop only.
func (cs *connState) markPartial(now int64) {
	if cs.partialSince.Load() == 0 {
		cs.partialSince.Store(now)
	}
}

// framingError closes cs: a stream that does not frame cannot be
// resynchronised. Event-loop only.
func (cs *connState) framingError(err error) gnet.Action {
	cs.s.stats.framingErrors.Add(1)
	cs.s.log.Warn("closing connection: framing error", zap.String("remote", cs.remote), zap.Error(err))
	return gnet.Close
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
