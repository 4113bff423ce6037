// Package pegasussim is a simulator of a follower Apache Pegasus cluster, for
// tests, the replay tool and the demo. It is not Pegasus: it keeps its data in
// memory and has no replication, but it is meant to be faithful where a peer
// can observe it.
//
// The simulator runs one meta endpoint and N replica endpoints on loopback
// ports. Each speaks the server side of the RDSN and THFT framings (wire.md §0.1,
// framing detected per connection from its first four bytes) through package
// codec, answers requests in pipelined fashion and dispatches on the rpc name
// like an rDSN server (wire.md §1.3):
//
//   - meta: RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX, RPC_CM_LIST_APPS,
//     RPC_CM_CREATE_APP (with the follower creating/created env protocol of
//     wire.md §4.2), RPC_CM_DROP_APP;
//   - replica: the storage RPCs of wire.md §4.4 and RPC_RRDB_RRDB_DUPLICATE
//     (§4.6), applied with Pegasus's rules (duplication.md §4,
//     src/server/pegasus_write_service_impl.h) to per-partition ordered stores
//     whose values are kept as Pegasus stores them: value schema v1,
//     expire_ts and timetag (storage.md §4);
//   - the master face of full duplication, for tables given a
//     TableSpec.CheckpointDir: RPC_QUERY_LAST_CHECKPOINT_INFO and the NFS
//     copy RPCs (duplication.md §2.2, §2.3; wire.md §4.7) serve each
//     partition's checkpoint files from that directory, with faults for a
//     master that vanishes mid-copy and for truncated or flipped bytes
//     (InjectNFSFault).
//
// Where the real servers would abort on bad input (malformed thrift, a meta
// request with a gpid, a PUT whose header hash differs from its key) the
// simulator answers with an error instead and counts the event, so tests can
// see it.
//
// Misplaced keys (a written key whose hash names another partition than the
// one receiving it; for RPC_RRDB_RRDB_DUPLICATE each entry's keys are checked
// on their own): in the default lenient mode they are applied and counted, as
// a real incremental-duplication follower silently does (duplication.md §3.6).
// In strict mode the whole request is rejected, before anything is applied,
// with the RPC-level error ERR_PARENT_PARTITION_MISUSED and an empty body:
// what a real replica answers when a key belongs to another partition after a
// split (wire.md §6.3), which the C++ client and the bridge treat as "refresh
// the configuration and retry". Either way the keys are counted
// (Counters.Misplaced) and listed (Cluster.Misplaced). Reads are served by
// the partition they are sent to in both modes. Independently, the table env
// replica.split.validate_partition_hash = "true" makes every request's header
// hash be checked as a real replica does (wire.md §6.3).
//
// Fault injection (close connections, delays, injected errors, unavailable
// partitions, primary moves) is available through Go methods on Cluster and
// through a small JSON HTTP control endpoint (see http.go).
package pegasussim
