package thrift

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by the reader wraps one of these in
// an *Error that says what was being read and at which offset.
var (
	// ErrShort: the buffer ends before the value does (truncated input).
	ErrShort = errors.New("thrift: unexpected end of data")
	// ErrNegativeLength: a length or count is negative.
	ErrNegativeLength = errors.New("thrift: negative length")
	// ErrTooLong: a length or count exceeds the bytes that remain.
	ErrTooLong = errors.New("thrift: length exceeds remaining bytes")
	// ErrDepth: nesting deeper than the reader's limit.
	ErrDepth = errors.New("thrift: nesting too deep")
	// ErrBadType: an unknown or unexpected type byte.
	ErrBadType = errors.New("thrift: bad type")
	// ErrBadMessage: a malformed TMessage header.
	ErrBadMessage = errors.New("thrift: bad message header")
	// ErrBadValue: a value outside its domain (e.g. rpc_address type bits).
	ErrBadValue = errors.New("thrift: bad value")
)

// Error is a decode error with its context.
type Error struct {
	Op     string // what was being read, e.g. "binary length"
	Offset int    // offset in the reader's buffer where the value started
	Err    error  // one of the sentinels above
}

func (e *Error) Error() string {
	return fmt.Sprintf("thrift: reading %s at offset %d: %v", e.Op, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func newErr(op string, off int, err error) error {
	return &Error{Op: op, Offset: off, Err: err}
}
