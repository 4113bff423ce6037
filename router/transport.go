package router

import (
	"context"

	"github.com/dupbridge/dupbridge/rpcclient"
)

// Meta resolves a follower table (wire.md §4.1). *rpcclient.Meta implements
// it: it follows leader hints and fails over across the meta list
// (wire.md §1.11). Tests inject fakes.
type Meta interface {
	QueryConfig(ctx context.Context, table string, indices []int32) (*rpcclient.TableConfig, error)
}

// Transport sends one partition RPC to a replica server. The error is a
// transport failure (connection lost, dial failure, context end); an
// RPC-level error comes back in Response.Err with a nil error.
type Transport interface {
	Call(ctx context.Context, addr string, req *rpcclient.Request) (*rpcclient.Response, error)
	// Reset drops the connection to addr, so the next call redials (after
	// errors that suggest the peer or the connection is confused).
	Reset(addr string)
}

// AsyncTransport is a Transport that can also send without blocking: cb
// gets the result exactly once, on the goroutine that completes the call,
// unless Go returns an error. The router uses it when the Transport has it
// (PoolTransport does) and otherwise runs Call on a goroutine.
type AsyncTransport interface {
	Transport
	Go(ctx context.Context, addr string, req *rpcclient.Request, cb func(*rpcclient.Response, error)) error
}

// PoolTransport is the Transport over an rpcclient.Pool: one pipelined
// connection per replica address, redialled on demand.
type PoolTransport struct {
	Pool *rpcclient.Pool
}

// Call implements Transport.
func (p PoolTransport) Call(ctx context.Context, addr string, req *rpcclient.Request) (*rpcclient.Response, error) {
	c, err := p.Pool.Get(addr)
	if err != nil {
		return nil, err
	}
	return c.Call(ctx, req)
}

// Go implements AsyncTransport.
func (p PoolTransport) Go(ctx context.Context, addr string, req *rpcclient.Request, cb func(*rpcclient.Response, error)) error {
	c, err := p.Pool.Get(addr)
	if err != nil {
		return err
	}
	return c.Go(ctx, req, cb)
}

// Reset implements Transport.
func (p PoolTransport) Reset(addr string) {
	if c, err := p.Pool.Get(addr); err == nil {
		c.Disconnect()
	}
}

// Connected reports whether a connection to addr is up now: a caller that
// must not block (a gnet event loop) sends through Go only then.
func (p PoolTransport) Connected(addr string) bool {
	c, err := p.Pool.Get(addr)
	return err == nil && c.Connected()
}
