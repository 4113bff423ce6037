// Package router ships encoded duplicate requests to the follower cluster:
// one follower table per Table, one ordered queue per follower partition.
//
// What it does (design.md "life of one duplicate RPC", steps 5 and 6):
//
//   - resolves the table through the follower meta list (leader hints are
//     followed by the Meta implementation, wire.md §1.11) and caches the
//     partition configs (wire.md §4.1); a newer config replaces a cached
//     partition only with a ballot at least as high (duplication.md §9.1);
//   - sends each partition's head shipment to the partition's current
//     primary as RPC_RRDB_RRDB_DUPLICATE with the header a C++ client
//     fills (wire.md §4.6): gpid (follower app_id, partition), the
//     partition_hash of the batch's last entry, thread_hash
//     app_id*7919+partition, a timeout;
//   - counts success only for RPC-level ERR_OK and duplicate_response.error
//     == 0 (wire.md §4.6); everything else is retried with capped
//     exponential backoff and jitter; routing errors (ERR_OBJECT_NOT_FOUND,
//     ERR_INVALID_STATE, ERR_PARENT_PARTITION_MISUSED, ERR_SPLITTING,
//     ERR_TIMEOUT, ERR_HANDLER_NOT_FOUND, connection errors) also ask for a
//     config refresh first (wire.md §4.5, §5.3);
//   - applies the table's failure policy: PolicySlow retries forever (the
//     master keeps its plog), PolicySkip drops a batch after MaxAttempts
//     failed attempts, logs its entry count and timestamp/decree range,
//     counts it and reports StatusSkipped. Follower error 4
//     (kInvalidArgument: cluster id unconfigured there, self-duplication,
//     unknown task code, duplication.md §4.2) is logged at error level with
//     the follower's hint on every occurrence and counted; it is never
//     retried silently.
//
// # Order
//
// Ship calls for one partition are applied in call order for every key.
// Each partition has one FIFO queue, and RPCs leave in queue order. A
// failed RPC is resent before anything that shares a key with it. Up to
// Options.Window RPCs of one partition may be on the wire at once, but only
// when they share no key (compared by each entry's routing hash, i.e. at
// hash-key granularity; an entry without a known hash conflicts with
// everything): a follower may reject batch k (ERR_BUSY, ERR_INVALID_STATE
// after a primary move, a timeout) and accept batch k+1 sent right behind
// it, and if both touched one key the resent k would overwrite k+1's newer
// value (design.md "Order per follower partition"). A shipment that shares
// a key with the wire waits, and nothing behind it overtakes it. Throughput
// also comes from parallel partitions and from coalescing: when several
// shipments are queued behind a free partition, their entries are sent as
// one duplicate_request (up to Options.MaxBatchBytes) in queue order, which
// keeps per-key order by construction; a coalesced batch is resent whole.
// A caller that takes several requests at once ships them with
// ShipDeferred and then calls Flush, so that they leave coalesced.
//
// Sending is event driven: a Ship (or Flush), the completion of a
// partition's RPC or the end of its backoff starts the partition's next RPC
// on the calling goroutine; completions run on the connection's reader
// goroutine (rpcclient.Conn.Go). No goroutine per partition sits between a
// master's request and the follower.
//
// # Partition count changes
//
// When the follower's effective partition count or app_id changes (a
// finished split: every child reports ballot > 0, wire.md §6.3; or a
// re-created table), the router pauses every queue, waits for the RPCs on
// the wire, re-splits every queued shipment by the hash of each entry
// (mutation.PayloadHash) into the new queues, keeping each old queue's order
// (keys of different old partitions are disjoint, so per-key order holds),
// publishes the new count and calls Options.OnLayoutChange. Callers split
// later requests with PartitionCount(); a shipment that arrives split for
// an older count (Shipment.PartitionCount) is re-split the same way. The
// caller therefore never re-ships anything itself: a caller-side re-ship
// would race with newer shipments for the same keys. While children of a
// split are not ready, the old count stays in force and their keys keep
// going to the parent (wire.md §6.3, C++ resolver behaviour).
//
// # Memory
//
// QueuedBytes and QueuedBytesTotal count the body bytes of shipments not
// yet completed, so the server can stop reading from masters at its cap
// (design.md "Bounded memory"). The router itself never refuses a Ship.
// Coalescing copies the entries of the shipments it merges into a
// per-partition buffer (at most MaxBatchBytes, dropped when the partition
// goes idle); that copy is not counted.
//
// # Layout change pause
//
// The re-split waits for the RPCs on the wire (each at most RPCTimeout),
// so every partition pauses for up to RPCTimeout when the follower's
// layout changes; shipments keep queueing meanwhile.
package router
