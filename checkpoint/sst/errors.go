package sst

import (
	"errors"
	"fmt"
)

// Error classes. Every error this package returns wraps one of them
// (errors.Is) and, for file content, is a *FileError naming the file and
// the byte offset.
var (
	// ErrCorrupt: the bytes are not a valid table: bad magic, a checksum
	// mismatch, a truncated or overlong block, a varint that runs off its
	// block, a decompressed size that differs from the recorded one.
	ErrCorrupt = errors.New("sst: corrupt table")
	// ErrUnsupported: a valid RocksDB feature this reader does not
	// implement (format_version 0/1 or ≥ 6, a compression or checksum type
	// without a decoder here, merge operands, range deletions, blob
	// indexes).
	ErrUnsupported = errors.New("sst: unsupported table feature")
)

// FileError says where in which file reading failed.
type FileError struct {
	File   string
	Offset int64 // byte offset in File of the block or field at fault; -1 if none
	Class  error // ErrCorrupt or ErrUnsupported
	Msg    string
	Err    error // an underlying cause (I/O, decompressor), may be nil
}

func (e *FileError) Error() string {
	s := e.Class.Error() + ": " + e.File
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at offset %d", e.Offset)
	}
	s += ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes both the class and the cause to errors.Is/As.
func (e *FileError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

func corruptf(file string, off int64, format string, args ...any) error {
	return &FileError{File: file, Offset: off, Class: ErrCorrupt, Msg: fmt.Sprintf(format, args...)}
}

func unsupportedf(file string, off int64, format string, args ...any) error {
	return &FileError{File: file, Offset: off, Class: ErrUnsupported, Msg: fmt.Sprintf(format, args...)}
}
