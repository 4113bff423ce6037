// Package thrift is a zero-copy reader and an append-style writer for the
// Apache Thrift binary protocol as Pegasus uses it (wire.md §0.2, §3).
//
// It serves the hot path: the reader walks a byte slice and hands out
// sub-slices of it (binary, string), never copies and never allocates per
// field. Whoever keeps a returned slice past the lifetime of the buffer it
// came from must copy it.
//
// rDSN's special types (blob, error_code, task_code, gpid, rpc_address,
// host_port) are written with a STRUCT type byte but primitive payloads; the
// reader exposes them as primitives (ReadBlob, ReadGpid, ...), and skipping an
// unknown field of such a type needs a schema (see Skip and SkipSchema).
package thrift
