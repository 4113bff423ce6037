package server

import (
	"github.com/dupbridge/dupbridge/codec"
)

// Face is an extra face of the server, asked first for every request frame
// (the meta-proxy answers query config on it, package metaproxy). The
// server keeps the framing, the decoding, the outbox and the back-pressure;
// a Face only decides the answer.
//
// Concurrency contract: Serve runs on the connection's event loop,
// concurrently on different loops; it must not block. f and its slices are
// valid only during the call.
type Face interface {
	// Serve returns false to leave f to the bridge's own faces. When it
	// returns true it has answered f through r: during the call with
	// r.Now, or later, from any goroutine, through the Later it took from
	// r.Later during the call. Exactly one answer per request.
	Serve(f *codec.Frame, r *Responder) bool
}

// Responder answers one request for a Face. Event-loop only.
type Responder struct {
	cs *connState
	f  *codec.Frame
}

// Now answers the request at once: errName is the RPC-level error, body the
// result wrapper (nil for an RPC-level error without a body).
func (r *Responder) Now(errName string, body []byte) { r.cs.replyNow(r.f, errName, body) }

// Later detaches what an answer needs from the request (a copy of its
// header), so that the answer can be sent after Serve returned.
func (r *Responder) Later() *Later {
	f := r.f
	d := &codec.Frame{Header: codec.Header{Framing: f.Framing, IsRequest: true, ID: f.ID,
		RPCName: append([]byte(nil), f.RPCName...)}}
	if f.Framing == codec.FramingRDSN && len(f.Raw) >= codec.RDSNHeaderSize {
		d.Raw = append([]byte(nil), f.Raw[:codec.RDSNHeaderSize]...)
	}
	r.cs.s.stats.inflightRequests.Add(1) // a graceful drain waits for it
	return &Later{cs: r.cs, f: d}
}

// Later is a request a Face answers after Serve returned.
type Later struct {
	cs *connState
	f  *codec.Frame
}

// Reply sends the answer (as Responder.Now). Any goroutine, once.
func (l *Later) Reply(errName string, body []byte) {
	l.cs.post(codec.AppendResponse(nil, l.f, errName, l.cs.s.from, body))
	l.cs.s.stats.inflightRequests.Add(-1)
}

// ParseQueryConfig decodes a query_cfg_request body (wire.md §4.1): the
// table name and the partition indices asked for.
func ParseQueryConfig(body []byte) (table string, indices []int32, err error) {
	q, err := parseQueryCfg(body, nil)
	return string(q.appName), q.indices, err
}

// AppendQueryConfigError appends a wrapped query_cfg_response that carries
// only its err field (app_id 0, no partitions: the shape a meta answers for
// a table it does not know, wire.md §1.13).
func AppendQueryConfigError(dst []byte, errName string) []byte {
	var s *Server // the ts == nil shape reads nothing from the server
	return s.appendQueryCfgResponse(dst, errName, nil, 0, nil, false)
}
