// Package thrift is a zero-copy reader and an append-style writer for the
// Apache Thrift binary protocol as Pegasus uses it (wire.md §0.2, §3).
//
// It serves the hot path: the reader walks a byte slice and hands out
// sub-slices of it (binary, string), never copies and never allocates per
// field. Whoever keeps a returned slice past the lifetime of the buffer it
// came from must copy it. Every length and count is checked against the
// remaining bytes before use, nesting is bounded (Reader.MaxDepth), and every
// error is an *Error wrapping one of the Err* sentinels; bad input never
// panics.
//
// rDSN's special types (blob, error_code, task_code, gpid, rpc_address,
// host_port) are written with a STRUCT type byte but primitive payloads; the
// reader exposes them as primitives (ReadBlob, ReadGpid, ...). Skipping an
// unknown field of such a type needs a schema: Skip is generic and
// mis-skips them, SkipSchema and SkipField take a Schema whose Kind names the
// special types. package idl/schema derives Schemas from the generated IDL
// structs.
//
// Cold path: ReadValue decodes any value into a generic Value tree,
// Writer.Value re-encodes it byte for byte, and Value.AppendText renders it
// for dumps.
package thrift
