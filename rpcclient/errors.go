package rpcclient

import (
	"errors"
	"fmt"
)

// Error classes. Every error a Conn returns wraps one of these (or the
// context's error when the call's deadline passed or it was cancelled).
var (
	// ErrConnClosed: the connection was lost (or could not be written to)
	// while the call was pending. The call may or may not have reached the
	// server; the next call redials. Callers retry.
	ErrConnClosed = errors.New("rpcclient: connection closed")
	// ErrDial: no connection could be established.
	ErrDial = errors.New("rpcclient: dial failed")
	// ErrClosed: the Conn, Pool or Meta was closed by its owner.
	ErrClosed = errors.New("rpcclient: client closed")
	// ErrBadResponse: the server sent bytes that are not a valid response
	// frame; the connection is closed (wire.md §1.12 step 6).
	ErrBadResponse = errors.New("rpcclient: bad response frame")
	// ErrMeta: a meta server answered with an error inside the response
	// struct (wire.md §5.2); the *MetaError says which.
	ErrMeta = errors.New("rpcclient: meta error")
	// ErrNoMeta: every meta server was tried and none gave an answer.
	ErrNoMeta = errors.New("rpcclient: no meta server answered")
	// ErrDecode: a response body could not be decoded.
	ErrDecode = errors.New("rpcclient: cannot decode response body")
)

// IsNetwork reports whether err is a transport failure (connection lost or
// not established) after which a retry on a fresh connection makes sense.
func IsNetwork(err error) bool {
	return errors.Is(err, ErrConnClosed) || errors.Is(err, ErrDial)
}

// RPCError is a non-ERR_OK RPC-level error (the RDSN header's error_name or
// the THFT response's error string, wire.md §5.2). Such responses carry no
// usable body.
type RPCError struct {
	Addr string // server address
	RPC  string // request name
	Err  string // error name, e.g. "ERR_OBJECT_NOT_FOUND"
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("rpcclient: %s to %s: %s", e.RPC, e.Addr, e.Err)
}

// MetaError is an error that a meta server put inside its response struct
// (`err` field, wire.md §4.1-4.3).
type MetaError struct {
	Op   string // e.g. "query config of table t"
	Addr string // meta that answered
	Err  string // error name, e.g. "ERR_OBJECT_NOT_FOUND"
}

func (e *MetaError) Error() string {
	return fmt.Sprintf("rpcclient: %s at %s: %s", e.Op, e.Addr, e.Err)
}

func (e *MetaError) Unwrap() error { return ErrMeta }

// ErrName returns the Pegasus error name carried by err (an *RPCError or a
// *MetaError anywhere in its chain), or "" if there is none.
func ErrName(err error) string {
	var re *RPCError
	if errors.As(err, &re) {
		return re.Err
	}
	var me *MetaError
	if errors.As(err, &me) {
		return me.Err
	}
	return ""
}
