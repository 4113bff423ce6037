package server

import (
	"runtime"
	"runtime/debug"
	"time"

	"go.uber.org/zap"
)

// Memory budget (issue 8). Every byte the bridge holds for a peer is
// charged to one of two global pools:
//
//   - Server.inflight, capped by max_inflight_bytes: admitted duplicate
//     requests (their parts' bodies and reply header) until the follower
//     acknowledges them (reserve, which may refuse: the connection then
//     waits, parked), and replies the peer has not read yet (gnet's
//     outbound buffer);
//   - Server.waiting, capped by WaitRoom: bytes received and not yet
//     decoded (gnet's inbound buffer, or connState.asm for a large frame).
//
// Undecoded and unread bytes are measured after every callback and charged
// as they are (setHeld): they are in memory already, since gnet cannot
// pause a connection's reads. So a peer that goes over is closed, with a
// logged reason: one that holds more undecoded bytes than
// max_connection_bytes, or more than waitGrace while the waiting room is
// full (reasonBudget); one whose replies stay unread while its requests
// keep arriving (reasonUnreadReplies). Admitted requests of one connection
// are capped by max_connection_bytes too (reserve). A master's requests are
// small (duplicate_log_batch_bytes, 4 KiB by default, duplication.md §3.4)
// and it sends one per hash queue before waiting (§3.7), so it waits,
// never closed, unless the memory is really gone. At most max_inflight_bytes
// + WaitRoom + connections × waitGrace are held.

// WaitRoom caps the undecoded bytes of all connections together
// (Options.WaitRoom overrides it).
const WaitRoom = 128 << 20

// waitGrace is what a connection may hold undecoded while the waiting room
// is full before it is closed.
const waitGrace = 16 << 10

// asmThreshold: frames larger than this are moved out of gnet's buffer into
// a buffer of the connection's own as they arrive (connState.asm), dropped
// once dispatched. gnet's ring buffer would double to hold them, and keeps
// its capacity in a pool afterwards; Peek would also copy the whole
// buffered prefix on every callback.
const asmThreshold = 64 << 10

// freeOSAfter: once this many bytes of large-frame buffers have been
// dropped, the sweep returns freed memory to the OS (freeOSMemory).
const freeOSAfter = 32 << 20

// reserve admits n bytes of a request of cs against the global cap and the
// connection's, or reports false when they do not fit. A request larger
// than what is free is admitted when nothing else is, so that no frame the
// decoder accepts can stall forever. Any goroutine.
func (s *Server) reserve(cs *connState, n int64) bool {
	if a := cs.admitted.Load(); a > 0 && a+n > s.maxConn {
		return false
	}
	for {
		cur := s.inflight.Load()
		if cur > 0 && cur+n > s.maxInflight.Load() {
			return false
		}
		if s.inflight.CompareAndSwap(cur, cur+n) {
			cs.admitted.Add(n)
			return true
		}
	}
}

// releaseFor returns n admitted bytes of cs and wakes stalled connections
// once the level is below the cap. Any goroutine.
func (s *Server) releaseFor(cs *connState, n int64) {
	cs.admitted.Add(-n)
	s.release(n)
}

// setHeld charges what cs holds undecoded (in) and unread (out) now, as
// measured on its loop. Event-loop only.
func (cs *connState) setHeld(in, out int64) {
	s := cs.s
	if d := in - cs.inHeld; d != 0 {
		s.waiting.Add(d)
	}
	if d := out - cs.outHeld; d > 0 {
		s.inflight.Add(d)
	} else if d < 0 {
		s.release(-d)
	}
	cs.inHeld, cs.outHeld = in, out
}

// settle charges what cs holds after a callback and decides whether it may
// keep it: it returns the reason to close cs, if any. Event-loop only.
func (cs *connState) settle() (closeReason, bool) {
	s := cs.s
	in := int64(cs.c.InboundBuffered() + cap(cs.asm))
	cs.setHeld(in, int64(cs.c.OutboundBuffered()))
	over := in > s.maxConn || (in > waitGrace && s.waiting.Load() > s.waitRoom)
	switch {
	case !over:
		return 0, false
	case cs.outStuck:
		return reasonUnreadReplies, true
	default:
		return reasonBudget, true
	}
}

// dropAsm forgets the large-frame buffer, counting it toward the next
// return of memory to the OS. Event-loop only.
func (cs *connState) dropAsm() {
	if cap(cs.asm) > 0 {
		cs.s.bigFreed.Add(int64(cap(cs.asm)))
	}
	cs.asm = nil
}

// freeOSMemory returns freed heap to the OS once enough large-frame
// buffers were dropped. Go's background scavenger gives memory back only
// gradually (it paces itself to a small share of CPU), so after an attack
// of huge frames RSS would stay near its peak for minutes although the heap
// is free; this makes it drop back within a sweep or two. The two GCs clear
// sync.Pool's victim cache, where gnet keeps its buffers. Rare (at most once
// per sweep, only after freeOSAfter bytes), and off the event loops.
func (s *Server) freeOSMemory() {
	if s.bigFreed.Load() < freeOSAfter || !s.freeing.CompareAndSwap(false, true) {
		return
	}
	s.bigFreed.Store(0)
	go func() {
		defer s.freeing.Store(false)
		start := time.Now()
		runtime.GC()
		debug.FreeOSMemory()
		s.log.Debug("returned freed memory to the OS", zap.Duration("took", time.Since(start)))
	}()
}
