package codec

import (
	"errors"
	"fmt"
)

// ErrNeedMore means the buffer holds only part of a frame; read more bytes
// and call Decode again with the grown buffer. It is returned unwrapped.
var ErrNeedMore = errors.New("codec: need more data")

// Error classes. Every other error the decoder returns is an *Error wrapping
// one of these; all of them mean the connection's byte stream is unusable.
var (
	// ErrBadMagic: the frame does not start with the framing's signature.
	ErrBadMagic = errors.New("codec: bad magic")
	// ErrUnsupportedFraming: a known signature we do not serve (HTTP, _RAW).
	ErrUnsupportedFraming = errors.New("codec: unsupported framing")
	// ErrFrameTooLarge: the announced frame size exceeds Decoder.MaxFrameSize.
	ErrFrameTooLarge = errors.New("codec: frame too large")
	// ErrBadCRC: a non-zero RDSN CRC field does not match (wire.md §1.7).
	ErrBadCRC = errors.New("codec: CRC mismatch")
	// ErrBadHeader: a malformed header field (lengths, names, THFT hdr_length).
	ErrBadHeader = errors.New("codec: bad header")
	// ErrBadVersion: a THFT hdr_version other than 0 or 1 (wire.md §2.2).
	ErrBadVersion = errors.New("codec: bad header version")
	// ErrBadMessage: a malformed or unexpected TMessage header inside a THFT
	// frame (wrong message type, name or seqid missing; wire.md §2.3, §2.5).
	ErrBadMessage = errors.New("codec: bad thrift message header")
)

// Error is a framing error with its context.
type Error struct {
	Framing Framing
	Op      string // what was being checked, e.g. "hdr_crc32"
	Offset  int    // offset of the frame in the buffer given to Decode
	Detail  string // optional specifics (values seen)
	Err     error  // one of the sentinels above
	Cause   error  // the underlying error, e.g. a *thrift.Error; may be nil
}

func (e *Error) Error() string {
	s := fmt.Sprintf("codec: %s %s at offset %d", e.Framing, e.Op, e.Offset)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	s += ": " + e.Err.Error()
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap lets errors.Is / errors.As see both the class and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

func newErr(f Framing, op string, off int, err error, detail string) error {
	return &Error{Framing: f, Op: op, Offset: off, Detail: detail, Err: err}
}

func wrapErr(f Framing, op string, off int, err, cause error) error {
	return &Error{Framing: f, Op: op, Offset: off, Err: err, Cause: cause}
}
