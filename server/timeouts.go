package server

import "time"

// sweepEvery is how often OnTick checks the connections' clocks.
const sweepEvery = 250 * time.Millisecond

// sweep closes connections whose frame has not arrived whole within
// frame_timeout, whose replies have stayed unread as long, or that have
// been idle (nothing held, nothing received) for idle_timeout; then it
// returns freed large buffers to the OS if due. It runs on gnet's ticker
// goroutine and reads only the connections' atomics; gnet.Conn.Close is
// safe from any goroutine.
func (s *Server) sweep(now time.Time) {
	if s.draining.Load() {
		return
	}
	t := now.UnixNano()
	b := s.live.Load()
	frame := b.FrameTimeout.Nanoseconds()
	if frame <= 0 {
		frame = int64(time.Hour)
	}
	idle := b.IdleTimeout.Nanoseconds()
	s.mu.Lock()
	var doomed []*connState
	var why []closeReason
	for cs := range s.conns {
		r, bad := cs.expired(t, frame, idle)
		if bad {
			doomed, why = append(doomed, cs), append(why, r)
		}
	}
	s.mu.Unlock()
	for i, cs := range doomed {
		if cs.shut(why[i]) {
			_ = cs.c.Close()
		}
	}
	s.freeOSMemory()
}

// expired reports whether one of cs's clocks ran out, and which. Any
// goroutine.
func (cs *connState) expired(now, frame, idle int64) (closeReason, bool) {
	if p := cs.partialSince.Load(); p > 0 && now-p > frame {
		return reasonFrameTimeout, true
	}
	if o := cs.outStuckSince.Load(); o > 0 && now-o > frame {
		return reasonUnreadReplies, true
	}
	if idle > 0 && cs.admitted.Load() == 0 && cs.partialSince.Load() == 0 && now-cs.lastActive.Load() > idle {
		return reasonIdle, true
	}
	return 0, false
}
