// rDSN special types (wire.md §3, storage.md §2.1).
//
// They are declared here as empty structs so that generated code writes them
// with a STRUCT (0x0C) field/element type byte, as every Pegasus peer does.
// Their payloads are NOT structs: each is one or more primitive values with
// no field headers and no STOP. Go code for this file is never generated:
// the types are hand-written in package idl/base (Read/Write implement the
// wire.md §3 table), and the generated packages import that package.
//
//   blob         i32 length + bytes
//   error_code   string: the error name, e.g. "ERR_OK"
//   task_code    string: the task code name, e.g. "RPC_RRDB_RRDB_PUT"
//   gpid         i64: uint32(partition_index) << 32 | uint32(app_id)
//   rpc_address  i64: ipv4 << 32 | port << 16 | type (type 0 or 1)
//   host_port    string host, i16 port, i8 type (0 or 1)

namespace go base

struct blob {}
struct error_code {}
struct task_code {}
struct gpid {}
struct rpc_address {}
struct host_port {}
