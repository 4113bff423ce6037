package server

import (
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
)

// Issue 8: what a network can send the RPC port. Each test reproduces one
// attack of the issue at unit scale (it failed before the fix: no limit, no
// timeout, an engine stopped by EMFILE, unbounded buffers) and checks the
// refusal is counted by reason.

// dialFrom connects to s from a chosen loopback source address.
func dialFrom(t testing.TB, s *Server, src string) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, c: c, fr: codec.FramingRDSN, dec: codec.Decoder{Role: codec.RoleClient, Framing: codec.FramingRDSN}}
}

// expectRefused dials from src and expects the server to reset the
// connection, during the handshake or after it.
func expectRefused(t testing.TB, s *Server, src string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		if !isReset(err) {
			t.Fatalf("dial from %s: %v", src, err)
		}
		return
	}
	defer c.Close()
	(&client{t: t, c: c}).expectClosed()
}

// served checks that cl gets an answer (ERR_HANDLER_NOT_FOUND to an
// unknown RPC).
func served(t testing.TB, cl *client) {
	t.Helper()
	cl.send(cl.request(77, "RPC_PING_TEST", 0, 0, nil))
	if f := cl.recv(); f.ID != 77 {
		t.Fatalf("answer id %d", f.ID)
	}
}

func waitRefused(t testing.TB, s *Server, why closeReason, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().ConnectionsRefused[why.String()] < n {
		if time.Now().After(deadline) {
			t.Fatalf("refused[%s] = %d, want >= %d (stats %+v)", why, s.Stats().ConnectionsRefused[why.String()], n, s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConnectionGate(t *testing.T) {
	cases := []struct {
		name    string
		keys    string
		admit   []string // sources whose connections are kept
		refuse  string   // source of the connection refused
		because closeReason
	}{
		{"total limit", "max_connections = 3\n", []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, "127.0.0.4", reasonLimit},
		{"per-peer limit", "max_connections_per_peer = 2\n", []string{"127.0.0.2", "127.0.0.2", "127.0.0.1"}, "127.0.0.2", reasonPeerLimit},
		{"allowed_peers", "allowed_peers = 127.0.0.1/32, 127.0.0.3/32\n", []string{"127.0.0.1", "127.0.0.3"}, "127.0.0.2", reasonNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, func(s string) string {
				return strings.Replace(s, "  event_loops = 2\n", "  event_loops = 2\n  "+tc.keys, 1)
			})
			s := startServer(t, cfg, newFakeShipper(nil, true), nil)
			var kept []*client
			for _, src := range tc.admit {
				cl := dialFrom(t, s, src)
				served(t, cl)
				kept = append(kept, cl)
			}
			expectRefused(t, s, tc.refuse)
			waitRefused(t, s, tc.because, 1)
			for _, cl := range kept { // existing connections are still served
				served(t, cl)
			}
			if got := s.Stats().ConnectionsOpen; got != int64(len(tc.admit)) {
				t.Errorf("open connections %d, want %d", got, len(tc.admit))
			}
		})
	}
}

// flakyListener fails its first fails Accept calls with err, as a process
// out of descriptors does.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
	err   error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: l.err}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestAcceptErrorsBackOff: gnet's own acceptor stopped the engine on the
// first EMFILE (and Run then returned nil). Accept errors are now waited
// out and counted; the server keeps serving.
func TestAcceptErrorsBackOff(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE} {
		t.Run(errno.Error(), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			fl := &flakyListener{Listener: ln, fails: 4, err: errno}
			s := startServer(t, testConfig(t, nil), newFakeShipper(nil, true), func(o *Options) { o.Listener = fl })
			served(t, dial(t, s, codec.FramingRDSN))
			if n := s.Stats().AcceptErrors; n != 4 {
				t.Errorf("accept errors %d, want 4", n)
			}
		})
	}
}

func timeoutConfig(t testing.TB) string {
	return strings.Replace(testINI, "  event_loops = 2\n", "  event_loops = 2\n  frame_timeout = 300ms\n  idle_timeout = 400ms\n", 1)
}

// TestTimeouts: a frame begun and never finished, and a connection that
// sends nothing, are closed; a connection with a request in flight is not
// idle.
func TestTimeouts(t *testing.T) {
	cfg := testConfig(t, func(string) string { return timeoutConfig(t) })
	sh := newFakeShipper(map[string]int{"orders": 2}, false)
	s := startServer(t, cfg, sh, nil)

	busy := dial(t, s, codec.FramingRDSN)
	busy.send(busy.request(1, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "v", 1, 1))))
	sh.waitParts(t, 1)

	partial := dial(t, s, codec.FramingRDSN)
	req := partial.request(2, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "v", 1, 1)))
	partial.send(req[:150])
	idle := dial(t, s, codec.FramingRDSN)

	partial.expectClosed()
	idle.expectClosed()
	waitRefused(t, s, reasonFrameTimeout, 1)
	waitRefused(t, s, reasonIdle, 1)
	// The busy connection outlived both clocks; its answer still arrives.
	sh.ackPending(PartResult{Status: PartAcked}, false)
	if r, err := mutation.ParseDupResponse(busy.recv().Body); err != nil || r.Error != 0 {
		t.Fatalf("busy connection answer: %+v %v", r, err)
	}
}

// TestHugePartialFrames: connections that each send most of a frame as
// large as max_frame_size and hang held every byte in gnet's buffer (issue:
// 60 × 16 MiB gave 3.6 GB RSS). Now what is held undecoded stays within the
// waiting room (plus a grace per connection), the surplus connections are
// closed for the budget, the rest at frame_timeout, and everything held is
// returned.
func TestHugePartialFrames(t *testing.T) {
	const room = 2 << 20
	cfg := testConfig(t, func(string) string {
		return strings.Replace(timeoutConfig(t), "max_frame_size = 256KiB", "max_frame_size = 1MiB", 1)
	})
	sh := newFakeShipper(map[string]int{"orders": 2}, true)
	s := startServer(t, cfg, sh, func(o *Options) { o.WaitRoom = room })
	const conns = 8
	big := strings.Repeat("x", 1<<20-4096)
	var wg sync.WaitGroup
	var peak int64
	for i := 0; i < conns; i++ {
		cl := dial(t, s, codec.FramingRDSN)
		req := cl.request(uint64(i), codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", big, 1, 1)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = cl.c.Write(req[:len(req)-2000])
		}()
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		peak = max(peak, s.Stats().WaitingBytes)
		if s.Stats().ConnectionsOpen == 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	// gnet reads 64 KiB at a time: a connection may overshoot by one read.
	if limit := int64(room + conns*(waitGrace+64<<10)); peak > limit {
		t.Errorf("undecoded bytes peaked at %d, limit %d", peak, limit)
	}
	waitRefused(t, s, reasonBudget, 1)
	waitRefused(t, s, reasonFrameTimeout, 1)
	for deadline := time.Now().Add(5 * time.Second); s.Stats().WaitingBytes != 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.WaitingBytes != 0 || st.InflightBytes != 0 {
		t.Errorf("held after the attackers left: %+v", st)
	}
	served(t, dial(t, s, codec.FramingRDSN))
}

// TestUnreadReplies: a peer floods query-config requests and never reads
// (issue: 8.7 GB RSS). Decoding stops at MaxOutbound, and the connection is
// closed once what it sends meanwhile exceeds its budget.
func TestUnreadReplies(t *testing.T) {
	sh := newFakeShipper(map[string]int{"orders": 4}, true)
	s := startServer(t, testConfig(t, nil), sh, func(o *Options) { o.MaxOutbound = 256 << 10 })
	cl := dial(t, s, codec.FramingRDSN)
	one := cl.request(1, codec.RPCQueryPartitionConfigByIndex, 0, 0, queryCfgBody(0, "orders"))
	batch := []byte{}
	for len(batch) < 256<<10 {
		batch = append(batch, one...)
	}
	var peak int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 400; i++ { // at most 100 MiB, bounded
			_ = cl.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := cl.c.Write(batch); err != nil {
				return
			}
		}
	}()
	for {
		st := s.Stats()
		peak = max(peak, st.InflightBytes+st.WaitingBytes)
		select {
		case <-done:
			waitRefused(t, s, reasonUnreadReplies, 1)
			// Bound: MaxOutbound plus one callback's replies, and
			// max_connection_bytes undecoded plus one read.
			if limit := int64(2*(256<<10) + 2*(512<<10) + 64<<10); peak > limit {
				t.Errorf("held %d bytes at peak, limit %d", peak, limit)
			}
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// TestLargeFrameAssembled: a frame above asmThreshold that arrives in
// pieces is assembled outside gnet's buffer, dispatched whole, and its
// buffer is dropped afterwards.
func TestLargeFrameAssembled(t *testing.T) {
	for _, step := range []int{1000, 64 << 10, 200 << 10} {
		s, sh := fuzzServer(t)
		fc := &fakeConn{}
		cs := newConnState(s, fc, "test")
		cl := &client{fr: codec.FramingRDSN}
		req := cl.request(9, codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", strings.Repeat("v", 200<<10), 1, 1)))
		for off := 0; off < len(req); off += step {
			fc.in = append(fc.in, req[off:min(off+step, len(req))]...)
			cs.onTraffic()
			if off+step < len(req) && (cs.asm == nil || s.Stats().WaitingBytes != int64(len(fc.in)+cap(cs.asm))) {
				t.Fatalf("step %d: partial frame of %d bytes not assembled and charged: %+v", step, len(req), s.Stats())
			}
		}
		if cs.asm != nil || len(sh.snapshot()) != 1 || s.Stats().WaitingBytes != 0 {
			t.Fatalf("step %d: asm %d bytes, %d parts, %+v", step, cap(cs.asm), len(sh.snapshot()), s.Stats())
		}
		sh.ackPending(PartResult{Status: PartAcked}, false)
		cs.onTraffic()
		if st := s.Stats(); st.InflightBytes != 0 || st.DupAcked != 1 {
			t.Fatalf("step %d: after ack %+v", step, st)
		}
	}
}
