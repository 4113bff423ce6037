package rpcclient

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
)

// reply is what a fake handler answers; close drops the connection instead,
// noReply answers nothing.
type reply struct {
	err     string
	body    []byte
	delay   time.Duration
	close   bool
	noReply bool
}

// fakeServer is a tiny pipelined server of our own, speaking the server side
// of RDSN and THFT through codec. Each request is handled on its own
// goroutine, so replies may go out of order.
type fakeServer struct {
	ln      net.Listener
	handle  func(f *codec.Frame) reply
	accepts atomic.Int32
	mu      sync.Mutex
	conns   []net.Conn
	frames  []codec.Frame // copies of the requests seen (Raw owned)
}

func newFakeServer(t *testing.T, handle func(f *codec.Frame) reply) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, handle: handle}
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

func (s *fakeServer) Addr() string { return s.ln.Addr().String() }

func (s *fakeServer) Close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

func (s *fakeServer) requests() []codec.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]codec.Frame(nil), s.frames...)
}

func (s *fakeServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepts.Add(1)
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.conn(c)
	}
}

func (s *fakeServer) conn(c net.Conn) {
	defer c.Close()
	var wmu sync.Mutex
	var dec codec.Decoder
	buf := make([]byte, 0, 1<<16)
	tmp := make([]byte, 1<<16)
	for {
		n, err := c.Read(tmp)
		if err != nil {
			return
		}
		buf = append(buf, tmp[:n]...)
		for {
			f, m, err := dec.Decode(buf)
			if errors.Is(err, codec.ErrNeedMore) {
				break
			}
			if err != nil {
				return
			}
			raw := append([]byte(nil), buf[:m]...)
			buf = buf[m:]
			// Re-decode the owned copy so the frame's slices stay valid.
			var d2 codec.Decoder
			d2.Framing = dec.Framing
			f, _, _ = d2.Decode(raw)
			s.mu.Lock()
			s.frames = append(s.frames, f)
			s.mu.Unlock()
			go func(f codec.Frame) {
				r := s.handle(&f)
				if r.delay > 0 {
					time.Sleep(r.delay)
				}
				if r.close {
					c.Close()
					return
				}
				if r.noReply {
					return
				}
				out := codec.AppendResponse(nil, &f, r.err, 0, r.body)
				wmu.Lock()
				c.Write(out)
				wmu.Unlock()
			}(f)
		}
	}
}
