package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/server"
	"github.com/dupbridge/dupbridge/server/follower"
)

// NodeOptions override parts of the configuration for in-process use
// (tests, benchmarks, `dupbridge serve`).
type NodeOptions struct {
	Logger *zap.Logger
	// Listen overrides [dupbridge] listen (edge) or relay_listen (sink).
	Listen string
	// HTTPListen overrides http_listen; "-" disables it. The edge serves
	// the bridge's endpoints; the sink those of SinkNode.HTTPHandler.
	HTTPListen string
	// Sink overrides relay_sink (edge).
	Sink string
	// Dial opens the edge's connections to the sink (EdgeOptions.Dial).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// LogLevel, when set, is the process's log level, changeable through
	// the admin HTTP (POST /log-level, server.LogLevelHandler).
	LogLevel *zap.AtomicLevel
}

// EdgeNode is a running edge: the bridge's server in front of an Edge.
type EdgeNode struct {
	Edge   *Edge
	Server *server.Server

	stopServer, stopEdge context.CancelFunc
	serverDone, edgeDone chan error
}

// StartEdge opens the spools and starts the edge's server and shippers; it
// returns once the server accepts masters. Stop ends it.
func StartEdge(ctx context.Context, cfg *config.Config, o NodeOptions) (*EdgeNode, error) {
	if cfg.Bridge.Role != config.RoleEdge {
		return nil, fmt.Errorf("relay: StartEdge with role = %s", cfg.Bridge.Role)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	e, err := NewEdge(cfg, EdgeOptions{Logger: o.Logger, Sink: o.Sink, Dial: o.Dial})
	if err != nil {
		return nil, err
	}
	srv, err := server.New(server.Options{Config: cfg, Shipper: e, Logger: o.Logger, Listen: o.Listen, HTTPListen: o.HTTPListen,
		Guards: e.Guards(), Collectors: e.Collectors(), FollowerStatus: func() any { return e.Stats() }, LogLevel: o.LogLevel})
	if err != nil {
		_ = e.Close()
		return nil, err
	}
	n := &EdgeNode{Edge: e, Server: srv, serverDone: make(chan error, 1), edgeDone: make(chan error, 1)}
	var sctx, ectx context.Context
	sctx, n.stopServer = context.WithCancel(ctx)
	ectx, n.stopEdge = context.WithCancel(context.WithoutCancel(ctx))
	go func() { n.edgeDone <- e.Run(ectx) }()
	go func() { n.serverDone <- srv.Run(sctx) }()
	select {
	case <-srv.Ready():
		return n, nil
	case err := <-n.serverDone:
		n.stopEdge()
		<-n.edgeDone
		_ = e.Close()
		if err == nil {
			err = errors.New("relay: edge server stopped at start")
		}
		return nil, err
	}
}

// Addr is the address masters use.
func (n *EdgeNode) Addr() string { return n.Server.Addr().String() }

// Wait blocks until the server stops (its context ended), then stops the
// shippers and closes the spools.
func (n *EdgeNode) Wait() error {
	err := <-n.serverDone
	n.serverDone <- err
	n.stopEdge()
	<-n.edgeDone
	n.edgeDone <- nil
	if cerr := n.Edge.Close(); err == nil {
		err = cerr
	}
	return err
}

// Stop drains the server (masters get their answers), then stops shipping
// and closes the spools. What is spooled stays for the next start.
func (n *EdgeNode) Stop() error {
	n.stopServer()
	return n.Wait()
}

// SinkNode is a running sink: the follower routers behind a Sink.
type SinkNode struct {
	Sink      *Sink
	Followers *follower.Set

	cfg      *config.Config
	log      *zap.Logger
	logLevel *zap.AtomicLevel
	httpAddr net.Addr
	stopping atomic.Bool

	cancel context.CancelFunc
	done   chan error
}

// StartSink starts opening the follower tables and accepting edges; it
// returns once the sink listens. Stop ends it.
func StartSink(ctx context.Context, cfg *config.Config, o NodeOptions) (*SinkNode, error) {
	if cfg.Bridge.Role != config.RoleSink {
		return nil, fmt.Errorf("relay: StartSink with role = %s", cfg.Bridge.Role)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	fs, err := follower.New(cfg, follower.Options{Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	s, err := NewSink(cfg, SinkOptions{Shipper: fs, Logger: o.Logger, Listen: o.Listen})
	if err != nil {
		_ = fs.Close()
		return nil, err
	}
	n := &SinkNode{Sink: s, Followers: fs, cfg: cfg, log: o.Logger, logLevel: o.LogLevel, done: make(chan error, 1)}
	var rctx context.Context
	rctx, n.cancel = context.WithCancel(ctx)
	fs.Open(rctx)
	go func() { n.done <- s.Run(rctx) }()
	select {
	case <-s.Ready():
		if err := n.serveHTTP(rctx, o); err != nil {
			n.cancel()
			_ = n.Wait()
			return nil, err
		}
		return n, nil
	case err := <-n.done:
		n.cancel()
		_ = fs.Close()
		return nil, err
	}
}

// Addr is the address edges use.
func (n *SinkNode) Addr() string { return n.Sink.Addr().String() }

// Wait blocks until the sink stops, then closes the routers.
func (n *SinkNode) Wait() error {
	err := <-n.done
	n.done <- err
	_ = n.Followers.Close()
	return err
}

// Stop closes the edges' connections and the routers; whatever was not
// acknowledged is resent by the edges to the next sink.
func (n *SinkNode) Stop() error {
	n.stopping.Store(true)
	n.cancel()
	return n.Wait()
}

// CheckFiles loads what the relay configuration names on disk (TLS
// certificate, key and CA; the zstd dictionary), for `serve --check`.
func CheckFiles(cfg *config.Config) error {
	r := &cfg.Bridge.Relay
	if _, err := tlsConfig(r, cfg.Bridge.Role == config.RoleSink); err != nil {
		return err
	}
	_, err := LoadDict(r.ZstdDict)
	return err
}
