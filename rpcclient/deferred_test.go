package rpcclient

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
)

// countingConn counts the Write calls on a client connection.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// GoDeferred queues without writing; Flush writes everything queued in one
// system call, and every call gets its own answer. A plain Go after
// deferred calls writes them too (nothing waits for a Flush then).
func TestGoDeferredFlushWritesOnce(t *testing.T) {
	cases := []struct {
		name     string
		deferred int
		then     string // "flush" or "go": how the queue is written
		async    bool
	}{
		{"one deferred, flush", 1, "flush", false},
		{"five deferred, flush", 5, "flush", false},
		{"five deferred, then a Go", 5, "go", false},
		{"five deferred, flush, async writes", 5, "flush", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newFakeServer(t, echo)
			var writes atomic.Int64
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return countingConn{nc, &writes}, nil
			}
			conn := NewConn(srv.Addr(), Options{Dial: dial, AsyncWrites: c.async})
			defer conn.Close()
			type res struct {
				i    int
				body []byte
				err  error
			}
			got := make(chan res, c.deferred+1)
			call := func(i int) (*Request, func(*Response, error)) {
				return &Request{RPCName: "RPC_X", Body: []byte(fmt.Sprintf("call %d", i))},
					func(r *Response, err error) {
						if err != nil {
							got <- res{i: i, err: err}
							return
						}
						got <- res{i: i, body: r.Body}
					}
			}
			for i := range c.deferred {
				req, cb := call(i)
				if err := conn.GoDeferred(context.Background(), req, cb); err != nil {
					t.Fatal(err)
				}
			}
			if n := writes.Load(); n != 0 {
				t.Fatalf("%d writes before the flush", n)
			}
			want := c.deferred
			switch c.then {
			case "flush":
				conn.Flush()
			case "go":
				req, cb := call(c.deferred)
				if err := conn.Go(context.Background(), req, cb); err != nil {
					t.Fatal(err)
				}
				want++
			}
			for range want {
				r := <-got
				if r.err != nil || !bytes.Equal(r.body, []byte(fmt.Sprintf("call %d", r.i))) {
					t.Fatalf("call %d: %q %v", r.i, r.body, r.err)
				}
			}
			if n := writes.Load(); n != 1 {
				t.Errorf("%d writes for %d calls, want 1", n, want)
			}
			if n := len(srv.requests()); n != want {
				t.Errorf("%d requests arrived, want %d", n, want)
			}
		})
	}
}
