package pegasussim

import (
	"errors"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
)

// conn is one accepted connection. Requests are handled in arrival order by
// the reading goroutine (so writes to a partition apply in the order they
// were sent, as on a real replica); replies are written in order of
// completion: at once, or later when a delay is injected.
type conn struct {
	nc net.Conn
	ep *endpoint

	wmu    sync.Mutex
	closed bool
}

func (cn *conn) close() {
	// Close first: it unblocks a writer stuck on a peer that does not read.
	cn.nc.Close()
	cn.wmu.Lock()
	cn.closed = true
	cn.wmu.Unlock()
}

func (cn *conn) write(b []byte) {
	if len(b) == 0 {
		return
	}
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if cn.closed {
		return
	}
	if _, err := cn.nc.Write(b); err != nil {
		cn.closed = true
		cn.nc.Close()
	}
}

func (cn *conn) serve() {
	defer cn.nc.Close()
	s := session{ep: cn.ep, later: func(d time.Duration, b []byte) {
		time.AfterFunc(d, func() { cn.write(b) })
	}}
	buf := make([]byte, 0, 64<<10)
	var out []byte
	for {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), 2*cap(buf))
			copy(nb, buf)
			buf = nb
		}
		n, err := cn.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			var used int
			var ferr error
			out, used, ferr = s.feed(buf, out[:0])
			cn.write(out)
			if ferr != nil {
				cn.ep.c.logger.Debug("pegasussim: simulator closing connection", zap.String("endpoint", cn.ep.hostPort), zap.Error(ferr))
				return
			}
			buf = buf[:copy(buf, buf[used:])]
			// Let a big buffer shrink once it is drained.
			if len(buf) == 0 && cap(buf) > 1<<20 {
				buf = make([]byte, 0, 64<<10)
			}
		}
		if err != nil {
			return
		}
	}
}

// session decodes one connection's byte stream and handles its requests.
// It holds no network state, so it can be driven by tests and the fuzzer.
type session struct {
	ep  *endpoint
	dec codec.Decoder // RoleServer, MaxFrameSize default
	// later sends a reply after a delay.
	later func(d time.Duration, b []byte)
}

// errClose is returned by feed when the connection must be closed.
var errClose = errors.New("pegasussim: close connection")

// feed handles every complete frame at the start of buf, appends the
// immediate replies to out, and returns how many bytes it consumed. A
// framing error means the stream is unusable: the caller closes the
// connection, as a real server does (wire.md §1.12).
func (s *session) feed(buf, out []byte) ([]byte, int, error) {
	used := 0
	for used < len(buf) {
		f, n, err := s.dec.Decode(buf[used:])
		if errors.Is(err, codec.ErrNeedMore) {
			return out, used, nil
		}
		if err != nil {
			return out, used, errors.Join(errClose, err)
		}
		used += n
		if !f.IsRequest {
			// A response on a server connection: nothing of ours to match.
			continue
		}
		out = s.ep.c.handle(s.ep, &f, out, s.later)
	}
	return out, used, nil
}
