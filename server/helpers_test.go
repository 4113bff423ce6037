package server

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/thrift"
)

// testINI is the configuration of most tests: the bridge is cluster B (id
// 2); table orders (app 5) accepts only master A (id 1); table open (app 6)
// accepts every configured id but B's.
const testINI = `[pegasus.clusters]
  F = 127.0.0.1:1
[duplication-group]
  A = 1
  B = 2
  C = 3
[dupbridge]
  listen = 127.0.0.1:0
  advertised_address = 10.0.0.2:34601
  advertised_host = bridge.test
  cluster_name = B
  max_frame_size = 256KiB
  max_inflight_bytes = 64MiB
  shutdown_timeout = 2s
  event_loops = 2
[table.orders]
  app_id = 5
  follower_cluster = F
  master_cluster = A
[table.open]
  app_id = 6
  follower_cluster = F
  advertised_partition_count = 8
`

func testConfig(t testing.TB, edit func(string) string) *config.Config {
	t.Helper()
	text := testINI
	if edit != nil {
		text = edit(text)
	}
	if !strings.Contains(text, "state_dir") {
		text = strings.Replace(text, "[dupbridge]\n", "[dupbridge]\n  state_dir = "+t.TempDir()+"\n", 1)
	}
	c, err := config.Parse([]byte(text), "test.ini")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "state_dir") {
		c.Bridge.StateDir = t.TempDir() // never the system's /var/lib/dupbridge
	}
	return c
}

// fakeShipper records parts; with auto it acknowledges each at once on
// another goroutine, else the test acks them.
type fakeShipper struct {
	mu     sync.Mutex
	counts map[string]int
	parts  []*Part
	dones  []func(PartResult)
	acked  int
	auto   bool
	result PartResult
	notify chan struct{}
}

func newFakeShipper(counts map[string]int, auto bool) *fakeShipper {
	return &fakeShipper{counts: counts, auto: auto, notify: make(chan struct{}, 1024)}
}

func (f *fakeShipper) PartitionCount(table string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[table]
}

func (f *fakeShipper) Ship(p *Part, done func(PartResult)) {
	f.mu.Lock()
	f.parts = append(f.parts, p)
	f.dones = append(f.dones, done)
	auto, res := f.auto, f.result
	f.mu.Unlock()
	if auto {
		go done(res)
	}
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// ackNext acknowledges the parts not acked yet, oldest first, in
// reverse when reverse is set.
func (f *fakeShipper) ackPending(r PartResult, reverse bool) int {
	f.mu.Lock()
	todo := append([]func(PartResult){}, f.dones[f.acked:]...)
	f.acked = len(f.dones)
	f.mu.Unlock()
	if reverse {
		for i, j := 0, len(todo)-1; i < j; i, j = i+1, j-1 {
			todo[i], todo[j] = todo[j], todo[i]
		}
	}
	for _, d := range todo {
		d(r)
	}
	return len(todo)
}

func (f *fakeShipper) snapshot() []*Part {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Part{}, f.parts...)
}

func (f *fakeShipper) waitParts(t testing.TB, n int) []*Part {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if p := f.snapshot(); len(p) >= n {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d parts, have %d", n, len(f.snapshot()))
		}
		select {
		case <-f.notify:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// fakeCreator records EnsureTable calls.
type fakeCreator struct {
	mu    sync.Mutex
	calls []int
	err   error
	block chan struct{}
}

func (c *fakeCreator) EnsureTable(ctx context.Context, t *config.Table, n int) (int, error) {
	if c.block != nil {
		select {
		case <-c.block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, n)
	return n, c.err
}

// startServer runs a server on 127.0.0.1:0 until the test ends.
func startServer(t testing.TB, cfg *config.Config, sh Shipper, mod func(*Options)) *Server {
	t.Helper()
	opts := Options{Config: cfg, Shipper: sh, Listen: "127.0.0.1:0", HTTPListen: "-"}
	if mod != nil {
		mod(&opts)
	}
	s, _ := runStoppable(t, opts)
	return s
}

// runStoppable starts a server (by default on a loopback port without
// HTTP) and returns it with a stop function (idempotent; also run at the
// test's end).
func runStoppable(t testing.TB, opts Options) (*Server, func()) {
	t.Helper()
	opts.Listen = cmp.Or(opts.Listen, "127.0.0.1:0")
	opts.HTTPListen = cmp.Or(opts.HTTPListen, "-")
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("server: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("server did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return s, stop
}

// client is a raw test connection.
type client struct {
	t   testing.TB
	c   net.Conn
	fr  codec.Framing
	dec codec.Decoder
	buf []byte
}

func dial(t testing.TB, s *Server, fr codec.Framing) *client {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, c: c, fr: fr, dec: codec.Decoder{Role: codec.RoleClient, Framing: fr}}
}

// request encodes one request; body is the wrapper (id 0 for RDSN, 1 for THFT).
func (cl *client) request(id uint64, name string, appID, pidx int32, body []byte) []byte {
	h := codec.RequestHeader{ID: id, RPCName: name, AppID: appID, PartitionIndex: pidx, TimeoutMs: 1000, Context: codec.ContextCppRequest}
	return codec.AppendRequest(nil, cl.fr, &h, body)
}

func (cl *client) send(b []byte) {
	cl.t.Helper()
	if _, err := cl.c.Write(b); err != nil {
		cl.t.Fatal(err)
	}
}

// recv reads one response frame (its slices are owned by the caller).
func (cl *client) recv() codec.Frame {
	cl.t.Helper()
	f, err := cl.tryRecv(5 * time.Second)
	if err != nil {
		cl.t.Fatalf("recv: %v", err)
	}
	return f
}

func (cl *client) tryRecv(d time.Duration) (codec.Frame, error) {
	_ = cl.c.SetReadDeadline(time.Now().Add(d))
	tmp := make([]byte, 64<<10)
	for {
		if len(cl.buf) > 0 {
			f, n, err := cl.dec.Decode(cl.buf)
			if err == nil {
				own := append([]byte{}, cl.buf[:n]...)
				cl.buf = append(cl.buf[:0], cl.buf[n:]...)
				f2, _, err := (&codec.Decoder{Role: codec.RoleClient, Framing: cl.fr}).Decode(own)
				return f2, err
			}
			if !errors.Is(err, codec.ErrNeedMore) {
				return f, err
			}
		}
		n, err := cl.c.Read(tmp)
		cl.buf = append(cl.buf, tmp[:n]...)
		if err != nil {
			return codec.Frame{}, err
		}
	}
}

// expectClosed asserts the server closed the connection.
func (cl *client) expectClosed() {
	cl.t.Helper()
	_ = cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	tmp := make([]byte, 1024)
	for {
		_, err := cl.c.Read(tmp)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
			return
		}
		cl.t.Fatalf("want the connection closed, got %v", err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

func wrapperID(fr codec.Framing) int16 {
	if fr == codec.FramingTHFT {
		return 1
	}
	return 0
}

func queryCfgBody(wid int16, app string, indices ...int32) []byte {
	w := thrift.Writer{}
	w.WrapperBegin(thrift.STRUCT, wid)
	w.FieldHeader(thrift.STRING, 1)
	w.String(app)
	w.FieldHeader(thrift.LIST, 2)
	w.ListHeader(thrift.I32, len(indices))
	for _, i := range indices {
		w.I32(i)
	}
	w.Stop()
	w.WrapperEnd()
	return w.B
}

func putEntry(hk, sk, val string, ts int64, cid int8) mutation.DupEntry {
	raw := mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte(hk), []byte(sk)), []byte(val), 0)
	return mutation.DupEntry{Timestamp: ts, TaskCode: []byte(codec.RPCPut), RawMessage: raw, ClusterID: cid, HasClusterID: true}
}

func dupBody(wid int16, es ...mutation.DupEntry) []byte {
	var w mutation.DupRequestWriter
	w.Begin(nil, wid)
	for i := range es {
		w.AppendEntry(&es[i])
	}
	return w.Finish()
}

// entryBytes is the encoding of one entry as it appears inside a request.
func entryBytes(e mutation.DupEntry) []byte {
	body := dupBody(0, e)
	return body[11 : len(body)-2]
}

// fakeConn drives the decode/dispatch path without gnet (loopConn).
type fakeConn struct {
	in     []byte
	out    []byte
	woken  int
	unread bool // the peer reads no replies: everything written stays outbound
	closed bool
}

func (c *fakeConn) InboundBuffered() int { return len(c.in) }
func (c *fakeConn) Peek(n int) ([]byte, error) {
	if n > len(c.in) {
		return nil, io.ErrShortBuffer
	}
	if n <= 0 {
		n = len(c.in)
	}
	return c.in[:n], nil
}
func (c *fakeConn) Discard(n int) (int, error) {
	if n > len(c.in) {
		n = len(c.in)
	}
	c.in = c.in[n:]
	return n, nil
}
func (c *fakeConn) Read(p []byte) (int, error) {
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}
func (c *fakeConn) Write(b []byte) (int, error) { c.out = append(c.out, b...); return len(b), nil }
func (c *fakeConn) OutboundBuffered() int {
	if c.unread {
		return len(c.out)
	}
	return 0
}
func (c *fakeConn) Wake(gnet.AsyncCallback) error { c.woken++; return nil }
func (c *fakeConn) Close() error                  { c.closed = true; return nil }
