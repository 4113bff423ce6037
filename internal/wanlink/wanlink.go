package wanlink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/dupbridge/dupbridge/internal/testdeps"
)

// Defaults of a Link: the WAN (15 ms each way = 30 ms RTT,
// 100 Mbit/s).
const (
	DefaultLatency  = 15 * time.Millisecond
	DefaultRateKBps = 12_500 // toxiproxy's KB is 1000 bytes: 100 Mbit/s
)

// Link is what a proxy does to the bytes through it.
type Link struct {
	// Latency is added in each direction (0: none).
	Latency time.Duration
	// RateKBps caps each direction of each connection (0: unlimited;
	// 1 KB = 1000 bytes).
	RateKBps int64
}

// WAN is the link: DefaultLatency each way, DefaultRateKBps.
func WAN() Link { return Link{Latency: DefaultLatency, RateKBps: DefaultRateKBps} }

// Server is a running toxiproxy-server.
type Server struct {
	API    string // host:port of its HTTP API
	client *toxiclient.Client
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	n      int
}

// Start runs toxiproxy-server (installed on a fresh machine by
// scripts/deps.sh, through testdeps) on a free loopback port, returns once
// its API answers, and stops it when the test or benchmark ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := testdeps.Tool(tb, "toxiproxy", "toxiproxy-server")
	var last error
	for range 3 { // a free port may be taken between pick and bind
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		s, err := startAt(context.Background(), bin, port)
		if err == nil {
			tb.Cleanup(func() { s.Close() })
			return s
		}
		last = err
	}
	tb.Fatal(last)
	return nil
}

func startAt(ctx context.Context, bin string, port int) (*Server, error) {
	api := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("wanlink: start %s: %w", bin, err)
	}
	s := &Server{API: api, client: toxiclient.NewClient(api), cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		if _, err := s.client.Version(); err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("wanlink: toxiproxy-server on %s exited at start", api)
		case <-deadline.C:
			s.Close()
			return nil, fmt.Errorf("wanlink: toxiproxy-server on %s did not answer within 15s", api)
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Proxy is one emulated link in front of an upstream address.
type Proxy struct {
	Addr     string // where to connect (127.0.0.1:port)
	Upstream string
	p        *toxiclient.Proxy
}

// Link creates a proxy in front of upstream with the link's toxics.
func (s *Server) Link(upstream string, l Link) (*Proxy, error) {
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("link%d", s.n)
	s.mu.Unlock()
	p, err := s.client.CreateProxy(name, "127.0.0.1:0", upstream)
	if err != nil {
		return nil, fmt.Errorf("wanlink: proxy to %s: %w", upstream, err)
	}
	px := &Proxy{Addr: p.Listen, Upstream: upstream, p: p}
	for _, stream := range []string{"upstream", "downstream"} {
		if l.Latency > 0 {
			if _, err := p.AddToxic("latency_"+stream, "latency", stream, 1,
				toxiclient.Attributes{"latency": l.Latency.Milliseconds()}); err != nil {
				return nil, errors.Join(fmt.Errorf("wanlink: latency toxic on %s: %w", name, err), p.Delete())
			}
		}
		if l.RateKBps > 0 {
			if _, err := p.AddToxic("bandwidth_"+stream, "bandwidth", stream, 1,
				toxiclient.Attributes{"rate": l.RateKBps}); err != nil {
				return nil, errors.Join(fmt.Errorf("wanlink: bandwidth toxic on %s: %w", name, err), p.Delete())
			}
		}
	}
	return px, nil
}

// Links creates one proxy per upstream with the same toxics and returns a
// map upstream → proxy address.
func (s *Server) Links(upstreams []string, l Link) (map[string]string, error) {
	out := make(map[string]string, len(upstreams))
	for _, u := range upstreams {
		p, err := s.Link(u, l)
		if err != nil {
			return nil, err
		}
		out[u] = p.Addr
	}
	return out, nil
}

// Delete removes the proxy (its connections are closed).
func (p *Proxy) Delete() error { return p.p.Delete() }

// Close stops the server (and with it every proxy).
func (s *Server) Close() error {
	if s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	return nil
}

// Dialer returns a dial function that sends connections to the addresses
// in via through their proxies (other addresses are dialled directly) and
// counts the bytes written and read on them in c (nil: not counted). It
// has the shape of rpcclient.Options.Dial.
func Dialer(via map[string]string, c *Counter) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		to := addr
		if p, ok := via[addr]; ok {
			to = p
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, to)
		if err != nil || c == nil {
			return conn, err
		}
		return &countingConn{Conn: conn, c: c}, nil
	}
}

// Counter counts the bytes of the connections a Dialer made.
type Counter struct {
	Sent, Received atomic.Int64
}

type countingConn struct {
	net.Conn
	c *Counter
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.c.Received.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.c.Sent.Add(int64(n))
	return n, err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("wanlink: pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
