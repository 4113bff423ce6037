package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/zap"
)

// The accept side of the RPC port. gnet's own acceptor stops the whole
// engine on any accept error other than EAGAIN/EINTR/ECONNRESET/
// ECONNABORTED (gnet v2.9.7 acceptor_unix.go returns ErrAcceptSocket, the
// poller returns it, and the engine shuts down while gnet.Run returns nil):
// one EMFILE under a connection flood ends the bridge with exit status 0.
// So the bridge accepts with a Go net.Listener, backs off on errors like
// net/http does, applies allowed_peers and the connection limits before a
// connection costs anything, and hands admitted connections to gnet's event
// loops (gnet.Client.EnrollContext), which have no listener of their own.

// closeReason is why the bridge refused or closed a connection (label
// reason of dupbridge_connections_refused_total; a bounded set).
type closeReason uint8

const (
	reasonLimit         closeReason = iota // max_connections (or the descriptor limit) reached
	reasonPeerLimit                        // max_connections_per_peer reached
	reasonNotAllowed                       // peer outside allowed_peers
	reasonIdle                             // idle_timeout with nothing in flight
	reasonFrameTimeout                     // a frame did not arrive whole within frame_timeout
	reasonBudget                           // held bytes over the connection's or the global budget
	reasonUnreadReplies                    // the peer does not read its replies
	numReasons
)

func (r closeReason) String() string {
	return [...]string{"limit", "peer_limit", "not_allowed", "idle", "frame_timeout", "budget", "unread_replies"}[r]
}

// acceptBackoff is the first and the longest pause after a failed accept
// (net/http's values): the listener keeps its backlog meanwhile.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// fdReserve is how many descriptors the connection cap leaves to everything
// else in the process (follower connections, HTTP, files, pollers), at
// least, of RLIMIT_NOFILE: a tenth of it, and never fewer than 64.
func fdReserve(nofile uint64) uint64 { return max(64, nofile/10) }

// connCap is max_connections, lowered so that accepted connections never
// exhaust the process's descriptors (Go raises the soft RLIMIT_NOFILE to
// the hard one at start; this reads what is in force).
func connCap(configured int) int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return configured
	}
	if rl.Cur <= fdReserve(rl.Cur) {
		return 1
	}
	return int(min(uint64(configured), rl.Cur-fdReserve(rl.Cur)))
}

// gate admits connections at accept: allowed_peers, the total and the
// per-peer limits. Any goroutine.
type gate struct {
	maxConns, perPeer int
	allowed           []netip.Prefix

	mu     sync.Mutex
	open   int
	byPeer map[netip.Addr]int
}

// admit takes a slot for a connection from peer, or says why not.
func (g *gate) admit(peer netip.Addr) (closeReason, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.allowed) > 0 && !prefixesContain(g.allowed, peer) {
		return reasonNotAllowed, false
	}
	switch {
	case g.open >= g.maxConns:
		return reasonLimit, false
	case g.byPeer[peer] >= g.perPeer:
		return reasonPeerLimit, false
	}
	g.open++
	g.byPeer[peer]++
	return 0, true
}

// setLimits changes the limits for later connections (reload); open
// connections above a lowered limit stay.
func (g *gate) setLimits(maxConns, perPeer int, allowed []netip.Prefix) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.maxConns, g.perPeer, g.allowed = maxConns, perPeer, allowed
}

// limit is the connection limit now.
func (g *gate) limit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxConns
}

// leave returns the slot of a connection from peer.
func (g *gate) leave(peer netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open--
	if g.byPeer[peer]--; g.byPeer[peer] <= 0 {
		delete(g.byPeer, peer)
	}
}

func prefixesContain(list []netip.Prefix, a netip.Addr) bool {
	for _, pf := range list {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// ticket travels with an admitted connection through gnet's enrollment to
// OnOpen, so that OnClose returns the slot; opened tells the acceptor that
// OnOpen ran (gnet drops a connection it fails to register without either
// callback).
type ticket struct {
	peer   netip.Addr
	opened atomic.Bool
}

func peerOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// acceptLoop accepts until ln is closed. Errors (EMFILE, ENFILE, ENOBUFS,
// ...) are counted, logged once per back-off step and waited out; they never
// stop the server.
func (s *Server) acceptLoop(ctx context.Context, ln net.Listener, cli *gnet.Client) {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err == nil {
			// Enrolling dups the descriptor: it fails like accept does
			// when descriptors run out, and is waited out the same way.
			err = s.enroll(c, cli)
		} else if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			s.stats.acceptErrors.Add(1)
			delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
			if delay == acceptBackoffMin || delay == acceptBackoffMax {
				s.log.Warn("accept failed; backing off", zap.Error(err), zap.Duration("delay", delay))
			}
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			continue
		}
		delay = 0
	}
}

// enroll admits c or refuses it (closed at once with a reset, counted). It
// returns an error only when an admitted connection could not be handed to
// an event loop (it is closed then).
func (s *Server) enroll(c net.Conn, cli *gnet.Client) error {
	peer := peerOf(c.RemoteAddr())
	if s.draining.Load() {
		abort(c)
		return nil
	}
	if why, ok := s.gate.admit(peer); !ok {
		s.refused(why, c.RemoteAddr().String())
		abort(c)
		return nil
	}
	tk := &ticket{peer: peer}
	// EnrollContext dups the descriptor, closes c and waits until the
	// connection's loop has run OnOpen.
	_, err := cli.EnrollContext(c, tk)
	if err != nil || !tk.opened.Load() {
		s.gate.leave(peer)
	}
	if err != nil {
		return fmt.Errorf("handing the connection from %s to an event loop: %w", c.RemoteAddr(), err)
	}
	return nil
}

// abort closes c with a reset: a refused peer gets no FIN handshake and the
// bridge keeps no TIME_WAIT for it.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// refused counts a refusal or a close by the bridge and logs it, at most
// once a second per reason with the count since the last line. Any
// goroutine.
func (s *Server) refused(why closeReason, remote string) {
	n := s.stats.refused[why].Add(1)
	now := time.Now().UnixNano()
	last := s.refusedLog[why].Load()
	if now-last < int64(time.Second) || !s.refusedLog[why].CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("connection refused or closed by the bridge", zap.Stringer("reason", why),
		zap.String("remote", remote), zap.Int64("total_for_reason", n))
}
