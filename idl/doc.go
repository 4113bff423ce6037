// Package idl holds this project's thrift IDL (*.thrift, written from the
// field tables of wire.md §3-§4 and storage.md §2), the Go generated from it
// by thrift-compiler 0.17 under gen/ (regenerate with `make idl`; `make test`
// fails when it is stale), and the hand-written rDSN special types in base/.
//
// Generated packages:
//
//	github.com/dupbridge/dupbridge/idl/gen/meta        meta server RPCs
//	github.com/dupbridge/dupbridge/idl/gen/rrdb        storage and duplicate RPCs
//	github.com/dupbridge/dupbridge/idl/gen/checkpoint  learn and NFS RPCs
//
// Hand-written: idl/base (Blob, ErrorCode, TaskCode, Gpid, RPCAddress,
// HostPort) and idl/schema (thrift.StructSchema from generated structs).
package idl
