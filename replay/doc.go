// Package replay ships Pegasus plog files to a follower cluster the way a
// master replica's duplicator does (duplication.md §3), so that a follower
// (a real Pegasus cluster, a bridge, or the simulator) can be filled, tested
// or measured from captured logs.
//
// For each source partition (one plog directory) Run:
//
//  1. loads committed mutations only, with Pegasus's replay semantics
//     (walreader.Committed: highest ballot per decree, committed by a later
//     last_committed_decree, storage.md §1.9); empty writes, non-idempotent
//     writes (INCR, CHECK_AND_SET, CHECK_AND_MUTATE) and DUPLICATE /
//     BULK_LOAD writes are skipped and counted (duplication.md §3.3-3.5);
//  2. groups them in rounds: a round ends at the first plog block boundary
//     after duplicate_log_batch_bytes of shippable payload (§3.2);
//  3. orders the round's tuples by timestamp and cuts duplicate_request
//     batches, closing a batch after the entry that brings it to
//     duplicate_log_batch_bytes or dup_max_allowed_write_size (§3.5);
//  4. DisciplinePegasus (the default): queues each batch under the hash of
//     its last entry, sends it to the primary of follower partition
//     hash % partition_count with the header a HEAD master's C++ client
//     fills (wire.md §4.6), one batch in flight per hash (§3.7), and
//     retries failures after RetryDelay forever, refreshing the table's
//     configuration from the follower meta on routing and connection
//     errors (wire.md §5.3); the round completes when every queue is
//     empty, then its last decree is recorded as acknowledged (progress
//     file), and only then is the next round loaded;
//  5. DisciplinePipelined: routes every entry by its own key and hands
//     each round's per-partition requests to one router.Table without
//     waiting, so rounds overlap: up to Window RPCs per follower partition
//     are on the wire, across rounds. Order per key is the router's
//     (router/doc.go "Order": one FIFO per follower partition, RPCs share
//     the wire only when their hash keys are disjoint, a failed RPC is
//     resent before anything sharing a key with it), through retries,
//     reconnects and primary moves. A round's last decree is recorded
//     once it and every earlier round of its partition are acknowledged.
//     A source partition stops loading while it holds Window ×
//     MaxWriteSize bytes unacknowledged.
//
// Source partitions replay in parallel; in the pegasus discipline rounds of
// one partition never overlap. A follower answering duplicate_response.error 4
// (InvalidArgument) would make a master abort (wire.md §4.6); replay stops
// that partition with ErrInvalidArgument instead and reports it.
package replay
