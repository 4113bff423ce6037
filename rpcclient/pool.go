package rpcclient

import (
	"fmt"
	"sync"
)

// Pool keeps one Conn per server address, all with the same Options. Safe
// for concurrent use.
type Pool struct {
	opts   Options
	mu     sync.Mutex
	conns  map[string]*Conn
	closed bool
}

// NewPool returns an empty pool.
func NewPool(opts Options) *Pool {
	opts.defaults()
	return &Pool{opts: opts, conns: make(map[string]*Conn)}
}

// Options returns the options every Conn of the pool uses.
func (p *Pool) Options() Options { return p.opts }

// Get returns the Conn for addr, creating it (undialled) if needed.
func (p *Pool) Get(addr string) (*Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("rpcclient: pool: %w", ErrClosed)
	}
	c, ok := p.conns[addr]
	if !ok {
		c = NewConn(addr, p.opts)
		p.conns[addr] = c
	}
	return c, nil
}

// Close closes every Conn; later Gets fail with ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[string]*Conn{}
	p.closed = true
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return nil
}
