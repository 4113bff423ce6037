package rpcclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
)

func echo(f *codec.Frame) reply { return reply{body: append([]byte(nil), f.Body...)} }

// The header a client fills (wire.md §1.12 "Sending a request", §1.6, §2.1).
func TestCallFillsHeader(t *testing.T) {
	from, _ := codec.ParseAddress("10.0.0.1:34601")
	body := []byte{0x0c, 0, 0, 0, 0}
	cases := []struct {
		name    string
		opts    Options
		req     Request
		wantCtx uint64
		wantTH  int32
	}{
		{"rdsn meta", Options{FromAddress: from}, Request{RPCName: RPCQueryConfig, Body: body}, 0x041, 0},
		{"rdsn partition", Options{FromAddress: from}, Request{RPCName: codec.RPCDuplicate, AppID: 2, PartitionIndex: 5,
			PartitionHash: 0xB136B82B96D0C625, ForwardSupported: true, Body: body}, 0x441, 2*7919 + 5},
		{"rdsn explicit thread hash", Options{}, Request{RPCName: codec.RPCPut, AppID: 2, PartitionIndex: 5, ThreadHash: 7, Body: body}, 0x041, 7},
		{"thft v0 partition", Options{Framing: codec.FramingTHFT}, Request{RPCName: codec.RPCGet, AppID: 2, PartitionIndex: 5,
			PartitionHash: 0xB136B82B96D0C625, Body: body}, 0x041, 2*7919 + 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t, echo)
			c := NewConn(s.Addr(), tc.opts)
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			resp, err := c.Call(ctx, &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if !resp.OK() || !bytes.Equal(resp.Body, body) {
				t.Fatalf("response %q %x, want ERR_OK %x", resp.Err, resp.Body, body)
			}
			fr := s.requests()[0]
			if string(fr.RPCName) != tc.req.RPCName || fr.AppID != tc.req.AppID || fr.PartitionIndex != tc.req.PartitionIndex {
				t.Errorf("name/gpid %s (%d,%d)", fr.RPCName, fr.AppID, fr.PartitionIndex)
			}
			if fr.Context != tc.wantCtx {
				t.Errorf("context %#x, want %#x", fr.Context, tc.wantCtx)
			}
			if fr.ThreadHash != tc.wantTH {
				t.Errorf("thread_hash %d, want %d", fr.ThreadHash, tc.wantTH)
			}
			if fr.PartitionHash != tc.req.PartitionHash {
				t.Errorf("partition_hash %#x", fr.PartitionHash)
			}
			if fr.TimeoutMs < 2000 || fr.TimeoutMs > 3000 {
				t.Errorf("timeout_ms %d, want the ~3000 ms left", fr.TimeoutMs)
			}
			if tc.opts.Framing != codec.FramingTHFT && fr.FromAddress != tc.opts.FromAddress {
				t.Errorf("from_address %#x", fr.FromAddress)
			}
			if !bytes.Equal(fr.Body, body) {
				t.Errorf("body %x", fr.Body)
			}
		})
	}
}

// Many calls in flight on one connection, answered in reverse order, each
// get their own response (matched by id, wire.md §1.12 step 5).
func TestPipelinedOutOfOrder(t *testing.T) {
	for _, fr := range []codec.Framing{codec.FramingRDSN, codec.FramingTHFT} {
		t.Run(fr.String(), func(t *testing.T) {
			const n = 64
			s := newFakeServer(t, func(f *codec.Frame) reply {
				i := int(f.Body[3])
				return reply{body: append([]byte(nil), f.Body...), delay: time.Duration(n-i) * time.Millisecond}
			})
			c := NewConn(s.Addr(), Options{Framing: fr})
			defer c.Close()
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					body := []byte{0x0b, 0, 0, byte(i), 0}
					resp, err := c.Call(context.Background(), &Request{RPCName: "RPC_X", Body: body})
					if err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(resp.Body, body) {
						errs <- fmt.Errorf("call %d got body %x", i, resp.Body)
					}
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if got := s.accepts.Load(); got != 1 {
				t.Errorf("%d connections, want 1", got)
			}
		})
	}
}

// A lost connection fails every pending call with ErrConnClosed; the next
// call redials.
func TestConnLossFailsPendingAndRedials(t *testing.T) {
	var mu sync.Mutex
	first := true
	s := newFakeServer(t, func(f *codec.Frame) reply {
		mu.Lock()
		defer mu.Unlock()
		if string(f.Body) == "close" {
			return reply{close: true, delay: 50 * time.Millisecond}
		}
		if first {
			return reply{noReply: true}
		}
		return echo(f)
	})
	c := NewConn(s.Addr(), Options{})
	defer c.Close()
	const pending = 5
	errs := make(chan error, pending)
	for i := 0; i < pending; i++ {
		go func() {
			_, err := c.Call(context.Background(), &Request{RPCName: "RPC_X", Body: []byte("wait")})
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := c.Call(context.Background(), &Request{RPCName: "RPC_X", Body: []byte("close")}); !errors.Is(err, ErrConnClosed) || !IsNetwork(err) {
		t.Fatalf("closing call: %v, want ErrConnClosed", err)
	}
	for i := 0; i < pending; i++ {
		if err := <-errs; !errors.Is(err, ErrConnClosed) {
			t.Errorf("pending call: %v, want ErrConnClosed", err)
		}
	}
	mu.Lock()
	first = false
	mu.Unlock()
	resp, err := c.Call(context.Background(), &Request{RPCName: "RPC_X", Body: []byte("again")})
	if err != nil || string(resp.Body) != "again" {
		t.Fatalf("call after loss: %v %q", err, resp)
	}
	if got := s.accepts.Load(); got != 2 {
		t.Errorf("%d connections, want 2 (one redial)", got)
	}
}

// The call's context bounds it; the connection survives a timed-out call.
func TestCallDeadline(t *testing.T) {
	s := newFakeServer(t, func(f *codec.Frame) reply {
		if string(f.Body) == "slow" {
			return reply{noReply: true}
		}
		return echo(f)
	})
	c := NewConn(s.Addr(), Options{})
	defer c.Close()
	cases := []struct {
		name string
		call func() error
	}{
		{"context deadline", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			_, err := c.Call(ctx, &Request{RPCName: "RPC_X", Body: []byte("slow")})
			return err
		}},
		{"request timeout", func() error {
			_, err := c.Call(context.Background(), &Request{RPCName: "RPC_X", Timeout: 30 * time.Millisecond, Body: []byte("slow")})
			return err
		}},
	}
	for _, tc := range cases {
		if err := tc.call(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want DeadlineExceeded", tc.name, err)
		}
	}
	resp, err := c.Call(context.Background(), &Request{RPCName: "RPC_X", Body: []byte("fast")})
	if err != nil || string(resp.Body) != "fast" {
		t.Fatalf("after timeouts: %v", err)
	}
	if s.accepts.Load() != 1 {
		t.Errorf("a timeout must not drop the connection")
	}
}

func TestRPCLevelErrorAndDial(t *testing.T) {
	s := newFakeServer(t, func(f *codec.Frame) reply { return reply{err: codec.ErrorObjectNotFound} })
	c := NewConn(s.Addr(), Options{})
	defer c.Close()
	r0, err0 := c.Call(context.Background(), &Request{RPCName: "RPC_X", Body: []byte{1}})
	resp, err := c.CheckOK("RPC_X", r0, err0)
	if resp != nil || ErrName(err) != codec.ErrorObjectNotFound {
		t.Fatalf("got %v %v, want RPCError ERR_OBJECT_NOT_FOUND", resp, err)
	}
	addr := s.Addr()
	s.Close()
	c2 := NewConn(addr, Options{DialTimeout: time.Second})
	defer c2.Close()
	if _, err := c2.Call(context.Background(), &Request{RPCName: "RPC_X"}); !errors.Is(err, ErrDial) || !IsNetwork(err) {
		t.Fatalf("dial to a closed port: %v, want ErrDial", err)
	}
	c2.Close()
	if _, err := c2.Call(context.Background(), &Request{RPCName: "RPC_X"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

func TestPool(t *testing.T) {
	p := NewPool(Options{})
	a, _ := p.Get("127.0.0.1:1")
	b, _ := p.Get("127.0.0.1:1")
	c, _ := p.Get("127.0.0.1:2")
	if a != b || a == c {
		t.Fatal("pool must return one Conn per address")
	}
	p.Close()
	if _, err := p.Get("127.0.0.1:1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}

// Requests Sent one after the other leave in that order (pipelined ordered
// writes), and each Pending collects its own response.
func TestSendKeepsOrder(t *testing.T) {
	s := newFakeServer(t, echo)
	c := NewConn(s.Addr(), Options{})
	defer c.Close()
	const n = 100
	ps := make([]*Pending, n)
	for i := range ps {
		p, err := c.Send(context.Background(), &Request{RPCName: "RPC_X", Body: []byte{0x0b, 0, 0, byte(i), 0}})
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = p
	}
	for i, p := range ps {
		resp, err := p.Wait()
		if err != nil || resp.Body[3] != byte(i) {
			t.Fatalf("call %d: %v %x", i, err, resp)
		}
	}
	for i, f := range s.requests() {
		if f.Body[3] != byte(i) {
			t.Fatalf("request %d arrived as number %d", f.Body[3], i)
		}
	}
	p, err := c.Send(context.Background(), &Request{RPCName: "RPC_X", Body: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	p.Cancel()
	if _, err := p.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after Cancel: %v", err)
	}
}

// Go completes every call exactly once through its callback: with the
// response, at the deadline, or on connection loss.
func TestGoCallbacks(t *testing.T) {
	var mode atomic.Int32 // 0 answer, 1 no reply, 2 close
	srv := newFakeServer(t, func(f *codec.Frame) reply {
		switch mode.Load() {
		case 1:
			return reply{noReply: true}
		case 2:
			return reply{close: true}
		}
		return reply{err: codec.ErrorOK, body: []byte{0x0b, 0, 0, 0, 0, 0, 1, 'x', 0}}
	})
	c := NewConn(srv.Addr(), Options{})
	defer c.Close()
	type res struct {
		resp *Response
		err  error
	}
	got := make(chan res, 4)
	cb := func(r *Response, err error) { got <- res{r, err} }
	req := func(timeout time.Duration) *Request {
		return &Request{RPCName: "RPC_ECHO", Timeout: timeout, Body: []byte{0x0b, 0, 0, 0, 0, 0, 1, 'x', 0}}
	}
	ctx := context.Background()
	if err := c.Go(ctx, req(0), cb); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.err != nil || !r.resp.OK() {
		t.Fatalf("answered call: %+v %v", r.resp, r.err)
	}
	mode.Store(1)
	if err := c.Go(ctx, req(50*time.Millisecond), cb); err != nil {
		t.Fatal(err)
	}
	if r := <-got; !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("unanswered call: %v, want the deadline", r.err)
	}
	mode.Store(2)
	if err := c.Go(ctx, req(5*time.Second), cb); err != nil {
		t.Fatal(err)
	}
	if r := <-got; !errors.Is(r.err, ErrConnClosed) {
		t.Fatalf("call on a closed connection: %v, want ErrConnClosed", r.err)
	}
	select {
	case extra := <-got:
		t.Fatalf("a second completion: %+v", extra)
	case <-time.After(100 * time.Millisecond):
	}
}

// Concurrent senders share write calls (session.send combines them, or
// the writer goroutine of Options.AsyncWrites does): every request still
// arrives whole and in one piece, whatever its size, and every caller gets
// its own answer.
func TestCombinedWrites(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%v", async), func(t *testing.T) { testCombinedWrites(t, async) })
	}
}

func testCombinedWrites(t *testing.T, async bool) {
	s := newFakeServer(t, echo)
	c := NewConn(s.Addr(), Options{AsyncWrites: async})
	defer c.Close()
	const senders, calls = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				body := bytes.Repeat([]byte{byte(g), byte(i)}, 1+(i*37+g*101)%3000)
				resp, err := c.Call(context.Background(), &Request{RPCName: "RPC_X", Body: body})
				if err != nil || !bytes.Equal(resp.Body, body) {
					errs <- fmt.Errorf("sender %d call %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(s.requests()); got != senders*calls {
		t.Errorf("%d requests arrived, want %d", got, senders*calls)
	}
}
