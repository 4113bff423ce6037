package walreader

import (
	"errors"
	"fmt"
)

// ErrCorrupt is the class of every malformed-data error; test it with
// errors.Is. I/O errors never match it.
var ErrCorrupt = errors.New("corrupt plog")

// Specific kinds of corruption; each wraps ErrCorrupt.
var (
	ErrBadMagic       = fmt.Errorf("%w: bad block magic", ErrCorrupt)
	ErrBadLength      = fmt.Errorf("%w: bad length", ErrCorrupt)
	ErrBadCRC         = fmt.Errorf("%w: block crc mismatch", ErrCorrupt)
	ErrBadFileHeader  = fmt.Errorf("%w: bad file header", ErrCorrupt)
	ErrBadMutation    = fmt.Errorf("%w: bad mutation", ErrCorrupt)
	ErrOffsetMismatch = fmt.Errorf("%w: mutation log_offset mismatch", ErrCorrupt)
	ErrGpidMismatch   = fmt.Errorf("%w: mutation gpid differs from the file header", ErrCorrupt)
	ErrIncomplete     = fmt.Errorf("%w: incomplete block before the end of the log", ErrCorrupt)
	ErrGap            = fmt.Errorf("%w: gap between log files", ErrCorrupt)
	ErrMissingDecree  = fmt.Errorf("%w: committed decree missing from the log", ErrCorrupt)
)

// ErrTornTail is returned by the single-file layers (BlockIterator,
// FileReader) when the data ends inside a block header or body. Reader turns
// it into a Warning at the end of the last file of a log and into
// ErrIncomplete anywhere else. It does not match ErrCorrupt.
var ErrTornTail = errors.New("torn tail: data ends inside a block")

// ErrWindowFull is returned by Committed when more uncommitted mutations of
// one partition are pending than CommittedOptions.MaxPending allows.
var ErrWindowFull = errors.New("too many uncommitted mutations pending")

// Error describes malformed data: which file, which block, and what was
// expected. Err is one of the sentinels above.
type Error struct {
	File        string // path of the file as given to the reader
	BlockOffset int64  // file offset of the enclosing block header (-1: not in a block)
	Offset      int64  // file offset of the bad item
	Err         error  // sentinel (ErrBadCRC, ...)
	Detail      string // what was expected and what was found
}

func (e *Error) Error() string {
	s := "walreader: " + e.File
	if e.BlockOffset >= 0 {
		s += fmt.Sprintf(": block at offset %d", e.BlockOffset)
	}
	if e.Offset != e.BlockOffset {
		s += fmt.Sprintf(": at offset %d", e.Offset)
	}
	s += ": " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func corrupt(file string, block, off int64, kind error, format string, args ...any) error {
	return &Error{File: file, BlockOffset: block, Offset: off, Err: kind, Detail: fmt.Sprintf(format, args...)}
}

func ioErr(file string, off int64, err error) error {
	return fmt.Errorf("walreader: %s at offset %d: %w", file, off, err)
}

// WarningKind says what a Warning reports.
type WarningKind uint8

const (
	// WarnTornTail: the last file ends inside a block; reading stopped there.
	WarnTornTail WarningKind = iota + 1
	// WarnSkipped: Options.SkipCorrupt skipped Bytes bytes of bad data.
	WarnSkipped
	// WarnGap: Options.SkipCorrupt let a gap between files through.
	WarnGap
	// WarnMissingDecree: Committed (with SkipCorrupt) found a committed decree missing.
	WarnMissingDecree
	// WarnReset: Committed saw last_committed_decree jump past every
	// buffered decree and dropped them, as Pegasus's replay does.
	WarnReset
)

func (k WarningKind) String() string {
	switch k {
	case WarnTornTail:
		return "torn tail"
	case WarnSkipped:
		return "skipped corrupt bytes"
	case WarnGap:
		return "gap between files"
	case WarnMissingDecree:
		return "missing decree"
	case WarnReset:
		return "commit point reset"
	}
	return fmt.Sprintf("warning(%d)", uint8(k))
}

// Warning is a problem the reader tolerated.
type Warning struct {
	Kind   WarningKind
	File   string
	Offset int64 // file offset where the problem starts
	Bytes  int64 // bytes ignored (torn tail length, skipped bytes)
	Err    error // the underlying error, when there is one
}

func (w Warning) String() string {
	s := fmt.Sprintf("walreader: %s: %s at offset %d", w.File, w.Kind, w.Offset)
	if w.Bytes > 0 {
		s += fmt.Sprintf(" (%d bytes)", w.Bytes)
	}
	if w.Err != nil {
		s += ": " + w.Err.Error()
	}
	return s
}
