// Package checkpoint copies a master table's checkpoint and loads it into a
// follower table of any partition count: the bridge's full duplication
// (duplication.md §1.6, §2).
//
// What it guarantees:
//
//   - Fetch copies the last checkpoint of every master partition into a
//     staging directory exactly as the master has it: every chunk's offset
//     and size are checked, each file's size, and its MD5 when the master
//     offers one (2.6 line). A file that fails a check is removed and the
//     error names the partition, the file and the offset. Nothing is
//     reported complete that was not verified.
//   - Fetch and Load resume: a run that was interrupted (a master that
//     vanished, a killed bridge) keeps what it had copied or loaded and
//     goes on from there; the manifest and the load position are written
//     atomically after each step.
//   - Load writes every live key of the staged checkpoint to the follower
//     as a PUT duplicate entry carrying the value's own timetag timestamp
//     and cluster id, its expire_ts and verify_timetag, so the follower
//     keeps the newer of a loaded value and one written by the incremental
//     duplication that follows, whatever their order (duplication.md §4.4).
//     A key's position is recorded only after the follower acknowledged it
//     and every key before it.
//   - Copy rate and parallelism, load rate and parallelism are bounded.
//
// How: the master meta names each partition's primary
// (RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX); the primary answers
// RPC_QUERY_LAST_CHECKPOINT_INFO with the checkpoint directory, its files
// and the learnee to copy from; RPC_NFS_GET_FILE_SIZE and RPC_NFS_COPY
// chunks copy each file (wire.md §4.7, duplication.md §2.2, §2.3). Load
// reads each staged partition through a Source (OpenSST: the RocksDB reader
// of package checkpoint/sst, newest live version of each key of the
// partition, deletions and expired values dropped; or any other record
// source), in raw-key order, splits the records by the
// follower's key hash and partition count into per-partition shipments of
// the router (package router), and moves its position forward chunk by
// chunk once the router reports every shipment of the chunk acknowledged.
//
// Why: Pegasus's own full duplication copies partition i of the master to
// partition i of the follower and so needs equal partition counts
// (duplication.md §2.5). Re-writing the keys through the follower's routing
// removes that limit, at the price of writing every key once more.
package checkpoint
