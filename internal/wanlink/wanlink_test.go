package wanlink

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// echo serves a line echo on loopback until the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// rtt is the fastest of n one-byte round trips over c.
func rtt(t *testing.T, c net.Conn, n int) time.Duration {
	t.Helper()
	r := bufio.NewReader(c)
	best := time.Hour
	for range n {
		start := time.Now()
		if _, err := c.Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadByte(); err != nil {
			t.Fatal(err)
		}
		best = min(best, time.Since(start))
	}
	return best
}

// A real toxiproxy-server between two loopback sockets adds at least the
// configured latency in each direction to every round trip, per link
// setting; bytes through the Dialer are counted. The bound is a floor the
// toxics guarantee (a correctness property of the harness), not a speed.
func TestLinkAddsLatency(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := Start(t)
	up := echo(t)
	for _, tc := range []struct {
		name string
		link Link
	}{
		{"30ms RTT, 100 Mbit/s", WAN()},
		{"10ms RTT", Link{Latency: 5 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Link(up, tc.link)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Delete()
			var cnt Counter
			c, err := Dialer(map[string]string{up: p.Addr}, &cnt)(ctx, "tcp", up)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			got := rtt(t, c, 5)
			if want := 2 * tc.link.Latency; got < want {
				t.Fatalf("round trip through the proxy %v, want ≥ %v", got, want)
			}
			if cnt.Sent.Load() != 5 || cnt.Received.Load() != 5 {
				t.Fatalf("counted %d sent, %d received; want 5 and 5", cnt.Sent.Load(), cnt.Received.Load())
			}
		})
	}
}
