package rpcclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/thrift"
)

// Options configure a Conn (and every Conn of a Pool). The zero value is
// usable: RDSN, from_address 0, 10 s dial timeout, 10 s call timeout.
type Options struct {
	// Framing of requests: codec.FramingRDSN (also for the zero value), or
	// codec.FramingTHFT with THFTVersion 0 (wire.md §2.1) or 1 (§2.2).
	Framing     codec.Framing
	THFTVersion int
	// FromAddress is the rpc_address (wire.md §1.5) put in RDSN headers;
	// 0 lets the server use the TCP peer address.
	FromAddress uint64
	// DialTimeout bounds each connection attempt (default 10 s).
	DialTimeout time.Duration
	// CallTimeout is used when neither the context nor the Request carries
	// a deadline (default 10 s).
	CallTimeout time.Duration
	// MaxFrameSize caps a response frame (default 64 MiB); a larger one
	// closes the connection.
	MaxFrameSize int
	// Dial replaces net.Dialer.DialContext (tests, fault injection).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// AsyncWrites makes a send only queue the request: a writer goroutine
	// per connection writes whatever has queued in one system call. A
	// caller that must not block (a gnet event loop forwarding requests,
	// package metaproxy) then never writes to a socket itself, and
	// requests sent close together share writes. The default writes on
	// the caller's goroutine (combining concurrent senders), which saves
	// the hand-off on latency-bound paths (the router).
	AsyncWrites bool
}

func (o *Options) defaults() {
	if o.Framing != codec.FramingTHFT {
		o.Framing = codec.FramingRDSN
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 10 * time.Second
	}
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = 64 << 20
	}
}

// Request is one call. Body is the complete request body: the one-field
// wrapper of wire.md §1.9 (type byte, field id, payload, STOP). For THFT the
// wrapper plays the role of the args struct (wire.md §2.3); its field id is
// not checked by servers.
type Request struct {
	RPCName        string
	AppID          int32 // 0 for meta RPCs (wire.md §1.3: non-zero aborts a meta)
	PartitionIndex int32
	PartitionHash  uint64
	// ThreadHash; when 0 and AppID > 0 it is AppID*7919+PartitionIndex,
	// as C++ sets it for partition RPCs (wire.md §1.6).
	ThreadHash int32
	// Timeout of this call; 0 = the context's deadline, or Options.CallTimeout.
	// The header's timeout_ms is the time left when the request is sent.
	Timeout time.Duration
	// ForwardSupported sets context 0x441 instead of 0x041 (wire.md §1.11).
	// A HEAD master's duplicator sends 0x441 (wire.md §4.6). RDSN only.
	ForwardSupported bool
	// BackupRequest sets the is_backup_request bit (reads only): RDSN
	// context bit 11, or THFT v1 meta field 5 (v0 cannot carry it).
	BackupRequest bool
	Body          []byte
}

// Response is the answer to one call.
type Response struct {
	// Err is the RPC-level error name, "ERR_OK" on success (wire.md §5.2).
	Err string
	// Body is a copy owned by the caller: the RDSN body (one-field wrapper)
	// or, for THFT, the bytes after the reply's TMessage header (the result
	// struct). Empty when Err is not ERR_OK.
	Body []byte
}

// OK reports whether the RPC-level error is ERR_OK.
func (r *Response) OK() bool { return r.Err == "ERR_OK" }

// Conn is a pipelined client connection to one server address. It is safe
// for concurrent use; calls are sent in the order they take the write lock
// and may complete in any order. It connects lazily and reconnects on the
// next call after a connection loss.
type Conn struct {
	addr   string
	opts   Options
	nextID atomic.Uint64

	mu     sync.Mutex
	sess   *session
	closed bool
	dialMu sync.Mutex // one dial at a time
}

// NewConn returns a Conn to addr ("host:port"); nothing is dialled until the
// first call.
func NewConn(addr string, opts Options) *Conn {
	opts.defaults()
	return &Conn{addr: addr, opts: opts}
}

// Addr returns the server address.
func (c *Conn) Addr() string { return c.addr }

// Framing returns the framing the Conn sends.
func (c *Conn) Framing() codec.Framing { return c.opts.Framing }

// Close closes the connection; pending calls fail with ErrClosed and later
// calls return ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.closed = true
	s := c.sess
	c.sess = nil
	c.mu.Unlock()
	if s != nil {
		s.fail(ErrClosed)
	}
	return nil
}

// Connected reports whether a live connection exists now (for metrics and tests).
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess != nil && !c.sess.dead()
}

// Disconnect drops the current connection (pending calls fail with
// ErrConnClosed); the next call redials. Routers use it after an error that
// suggests the peer is confused.
func (c *Conn) Disconnect() {
	c.mu.Lock()
	s := c.sess
	c.sess = nil
	c.mu.Unlock()
	if s != nil {
		s.fail(fmt.Errorf("%w: disconnected by caller", ErrConnClosed))
	}
}

// Call sends req and waits for its response, the context's end, or the
// connection's loss. A non-nil Response is returned only with a nil error;
// an RPC-level error is reported in Response.Err, not as an error (use
// Response.OK or CheckOK).
func (c *Conn) Call(ctx context.Context, req *Request) (*Response, error) {
	p, err := c.Send(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.Wait()
}

// CallStruct is Call with a request struct that encode writes (its fields
// and STOP), wrapped as the framing wants: field id 0 in RDSN bodies, the
// args id 1 in THFT (wire.md §1.9, §2.3).
func (c *Conn) CallStruct(ctx context.Context, rpc string, encode func(w *thrift.Writer)) (*Response, error) {
	return c.Call(ctx, &Request{RPCName: rpc, Body: requestBody(c, encode)})
}

// Pending is a sent request whose response has not been collected yet.
type Pending struct {
	c      *Conn
	s      *session
	id     uint64
	rpc    string
	ctx    context.Context
	cancel context.CancelFunc
	ch     chan result
}

// Send writes req on the connection (dialling if needed) and returns at
// once. Requests sent one after the other by one goroutine leave in that
// order, so a caller can pipeline ordered writes to one partition. The
// deadline (ctx, Request.Timeout or Options.CallTimeout) runs from Send;
// collect the response with Wait, or drop it with Cancel.
func (c *Conn) Send(ctx context.Context, req *Request) (*Pending, error) {
	var cancel context.CancelFunc
	if req.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
	} else if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	fail := func(err error) (*Pending, error) {
		cancel()
		return nil, fmt.Errorf("rpcclient: %s to %s: %w", req.RPCName, c.addr, err)
	}
	s, err := c.session(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	id := c.nextID.Add(1)
	if c.opts.Framing == codec.FramingTHFT {
		// THFT seqids are i32; keep them positive (wire.md §2.3).
		id &= 0x7fffffff
		if id == 0 {
			id = c.nextID.Add(1) & 0x7fffffff
		}
	}
	ch := make(chan result, 1)
	if err := s.register(id, waiter{ch: ch}); err != nil {
		return fail(err)
	}
	timeoutMs := int32(c.opts.CallTimeout / time.Millisecond)
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl) / time.Millisecond
		switch {
		case left < 1:
			left = 1
		case left > 1<<31-1:
			left = 1<<31 - 1
		}
		timeoutMs = int32(left)
	}
	if err := s.send(&c.opts, id, timeoutMs, req); err != nil {
		s.unregister(id)
		return fail(err)
	}
	return &Pending{c: c, s: s, id: id, rpc: req.RPCName, ctx: ctx, cancel: cancel, ch: ch}, nil
}

// Go sends req like Send and returns at once; cb gets the response or the
// error that ended the call (deadline, cancellation, ErrConnClosed) exactly
// once, on the connection's reader goroutine (or a timer's), so it must not
// block. When Go itself returns an error, cb is never called. It saves the
// goroutine hand-off of Wait on hot paths (the router).
func (c *Conn) Go(ctx context.Context, req *Request, cb func(*Response, error)) error {
	var cancel context.CancelFunc
	if req.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
	} else if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	s, err := c.session(ctx)
	if err != nil {
		cancel()
		return err
	}
	id := c.nextID.Add(1)
	if c.opts.Framing == codec.FramingTHFT {
		id &= 0x7fffffff
		if id == 0 {
			id = c.nextID.Add(1) & 0x7fffffff
		}
	}
	var once sync.Once
	w := waiter{cb: func(r result) {
		once.Do(func() {
			cancel() // also retires the deadline watcher below
			if r.err != nil {
				cb(nil, fmt.Errorf("rpcclient: %s to %s: %w", req.RPCName, c.addr, r.err))
				return
			}
			cb(r.resp, nil)
		})
	}}
	if err := s.register(id, w); err != nil {
		cancel()
		return fmt.Errorf("rpcclient: %s to %s: %w", req.RPCName, c.addr, err)
	}
	timeoutMs := int32(c.opts.CallTimeout / time.Millisecond)
	if dl, ok := ctx.Deadline(); ok {
		timeoutMs = int32(min(max(time.Until(dl)/time.Millisecond, 1), 1<<31-1))
	}
	// The deadline (or cancellation) completes the call if nothing else
	// did; after completion cancel() fires it, and it finds nothing.
	context.AfterFunc(ctx, func() {
		if w, ok := s.take(id); ok {
			w.complete(result{err: ctx.Err()})
		}
	})
	if err := s.send(&c.opts, id, timeoutMs, req); err != nil {
		if _, mine := s.take(id); mine {
			cancel()
			return fmt.Errorf("rpcclient: %s to %s: %w", req.RPCName, c.addr, err)
		}
		return nil // the session's failure completed the call already
	}
	return nil
}

// Wait returns the response, or the error that ended the call (the
// deadline, cancellation, or ErrConnClosed). Call it once.
func (p *Pending) Wait() (*Response, error) {
	defer p.cancel()
	if err := p.ctx.Err(); err != nil { // cancelled or expired already
		p.s.unregister(p.id)
		return nil, fmt.Errorf("rpcclient: %s to %s: %w", p.rpc, p.c.addr, err)
	}
	select {
	case r := <-p.ch:
		if r.err != nil {
			return nil, fmt.Errorf("rpcclient: %s to %s: %w", p.rpc, p.c.addr, r.err)
		}
		return r.resp, nil
	case <-p.ctx.Done():
		p.s.unregister(p.id)
		return nil, fmt.Errorf("rpcclient: %s to %s: %w", p.rpc, p.c.addr, p.ctx.Err())
	}
}

// Cancel drops the call: a late response is discarded.
func (p *Pending) Cancel() {
	p.s.unregister(p.id)
	p.cancel()
}

// CheckOK turns a Call's result into one error: the transport error, or an
// *RPCError when the RPC-level error is not ERR_OK.
func (c *Conn) CheckOK(rpc string, resp *Response, err error) (*Response, error) {
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, &RPCError{Addr: c.addr, RPC: rpc, Err: resp.Err}
	}
	return resp, nil
}

// session returns the live session, dialling if needed.
func (c *Conn) session(ctx context.Context) (*session, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("rpcclient: %s: %w", c.addr, ErrClosed)
	}
	if s := c.sess; s != nil && !s.dead() {
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()

	c.dialMu.Lock()
	defer c.dialMu.Unlock()
	c.mu.Lock()
	if s := c.sess; s != nil && !s.dead() { // someone else dialled meanwhile
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()

	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	dial := c.opts.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(dctx, "tcp", c.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("rpcclient: dial %s: %w", c.addr, ctx.Err())
		}
		return nil, fmt.Errorf("rpcclient: dial %s: %w: %v", c.addr, ErrDial, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	s := &session{
		nc:      nc,
		addr:    c.addr,
		dec:     codec.Decoder{Role: codec.RoleClient, Framing: c.opts.Framing, MaxFrameSize: c.opts.MaxFrameSize},
		pending: make(map[uint64]waiter),
		done:    make(chan struct{}),
	}
	if c.opts.AsyncWrites {
		s.kick = make(chan struct{}, 1)
		go s.writeLoop()
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		nc.Close()
		return nil, fmt.Errorf("rpcclient: %s: %w", c.addr, ErrClosed)
	}
	c.sess = s
	c.mu.Unlock()
	go s.readLoop()
	return s, nil
}

type result struct {
	resp *Response
	err  error
}

// session is one TCP connection and the calls pending on it.
type session struct {
	nc   net.Conn
	addr string
	dec  codec.Decoder // used by readLoop only

	// Writes are combined: a request is appended to wbuf under wmu; the
	// sender that finds no write in progress writes wbuf (and whatever
	// others append meanwhile), the others return at once. Concurrent
	// callers thus share write system calls.
	wmu     sync.Mutex
	wbuf    []byte
	spare   []byte
	writing bool
	kick    chan struct{} // Options.AsyncWrites: wakes writeLoop; nil otherwise

	mu      sync.Mutex
	pending map[uint64]waiter
	err     error // non-nil once the session is dead
	done    chan struct{}
}

func (s *session) dead() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waiter is how a pending call learns its result: a channel (Send/Wait)
// or a callback (Go), run on the goroutine that completes the call.
type waiter struct {
	ch chan result
	cb func(result)
}

func (w waiter) complete(r result) {
	if w.cb != nil {
		w.cb(r)
		return
	}
	w.ch <- r
}

func (s *session) register(id uint64, w waiter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.pending[id] = w
	return nil
}

func (s *session) unregister(id uint64) { s.take(id) }

// take removes a pending call; whoever takes it completes it, exactly once.
func (s *session) take(id uint64) (waiter, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.pending[id]
	if ok {
		delete(s.pending, id)
	}
	return w, ok
}

// fail kills the session once: the socket is closed and every pending call
// gets err.
func (s *session) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	pend := s.pending
	s.pending = nil
	close(s.done)
	s.mu.Unlock()
	s.nc.Close()
	for _, w := range pend {
		w.complete(result{err: err})
	}
}

func (s *session) send(o *Options, id uint64, timeoutMs int32, req *Request) error {
	threadHash := req.ThreadHash
	if threadHash == 0 && req.AppID > 0 {
		threadHash = codec.ThreadHash(req.AppID, req.PartitionIndex) // wire.md §1.4
	}
	ctxBits := codec.ContextClientRequest // 0x041: no forwarding (wire.md §1.11)
	if req.ForwardSupported {
		ctxBits = codec.ContextCppRequest // 0x441
	}
	h := codec.RequestHeader{
		ID:              id,
		TraceID:         rand.Uint64(),
		RPCName:         req.RPCName,
		AppID:           req.AppID,
		PartitionIndex:  req.PartitionIndex,
		Context:         ctxBits,
		FromAddress:     o.FromAddress,
		TimeoutMs:       timeoutMs,
		ThreadHash:      threadHash,
		PartitionHash:   req.PartitionHash,
		THFTVersion:     o.THFTVersion,
		IsBackupRequest: req.BackupRequest,
	}
	s.wmu.Lock()
	if s.dead() {
		s.wmu.Unlock()
		s.mu.Lock()
		err := s.err
		s.mu.Unlock()
		return err
	}
	s.wbuf = codec.AppendRequest(s.wbuf, o.Framing, &h, req.Body)
	if s.kick != nil {
		s.wmu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default: // a wake-up is pending already
		}
		return nil
	}
	if s.writing {
		// The writer in progress sends it; should that write fail, the
		// session's failure completes this call too.
		s.wmu.Unlock()
		return nil
	}
	s.writing = true
	err := s.writeQueuedLocked()
	s.writing = false
	s.wmu.Unlock()
	if err != nil {
		s.fail(err)
		return err
	}
	return nil
}

// writeQueuedLocked writes what is queued until nothing is. The one writer
// (the sender that set s.writing, or writeLoop) calls it with wmu held; wmu
// is released around each write, so that others keep queueing. It returns
// with wmu held.
func (s *session) writeQueuedLocked() error {
	for len(s.wbuf) > 0 {
		// b leaves the lock; the spare buffer takes the new requests, and
		// b becomes the spare once written (never both at once).
		b := s.wbuf
		s.wbuf, s.spare = s.spare[:0], nil
		s.wmu.Unlock()
		_, err := s.nc.Write(b)
		s.wmu.Lock()
		if cap(b) <= 1<<20 {
			s.spare = b[:0]
		}
		if err != nil {
			return fmt.Errorf("%w: write: %v", ErrConnClosed, err)
		}
	}
	return nil
}

// writeLoop writes what sends queued (Options.AsyncWrites) until the
// session dies; a write error kills the session, which completes every
// pending call.
func (s *session) writeLoop() {
	for {
		select {
		case <-s.kick:
		case <-s.done:
			return
		}
		s.wmu.Lock()
		err := s.writeQueuedLocked()
		s.wmu.Unlock()
		if err != nil {
			s.fail(err)
			return
		}
	}
}

func (s *session) readLoop() {
	buf := make([]byte, 0, 64<<10)
	for {
		// Cut every complete frame out of buf.
		off, need := 0, 0
		for {
			fr, n, err := s.dec.Decode(buf[off:])
			if errors.Is(err, codec.ErrNeedMore) {
				if sz, e := s.dec.FrameSize(buf[off:]); e == nil {
					need = sz
				}
				break
			}
			if err != nil {
				s.fail(fmt.Errorf("%w: %w: %v", ErrConnClosed, ErrBadResponse, err))
				return
			}
			off += n
			if fr.IsRequest {
				s.fail(fmt.Errorf("%w: %w: a request arrived on a client connection", ErrConnClosed, ErrBadResponse))
				return
			}
			s.deliver(&fr)
		}
		if off > 0 {
			buf = buf[:copy(buf, buf[off:])]
		}
		if len(buf) == 0 && cap(buf) > 1<<20 {
			buf = make([]byte, 0, 64<<10) // drop the room a huge frame needed
		}
		if need > cap(buf) || len(buf) == cap(buf) {
			nb := make([]byte, len(buf), max(need, 2*cap(buf)))
			copy(nb, buf)
			buf = nb
		}
		n, err := s.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if err == io.EOF {
				err = errors.New("closed by peer")
			}
			s.fail(fmt.Errorf("%w: read: %v", ErrConnClosed, err))
			return
		}
	}
}

func (s *session) deliver(fr *codec.Frame) {
	w, ok := s.take(fr.ID)
	if !ok {
		return // the caller gave up (deadline); drop the late response
	}
	resp := &Response{Err: string(fr.ErrorName)}
	if len(fr.Body) > 0 {
		resp.Body = append([]byte(nil), fr.Body...)
	}
	w.complete(result{resp: resp})
}
