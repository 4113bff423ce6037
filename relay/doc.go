// Package relay is the WAN link between an edge (in the master's
// datacenter) and a sink (beside the follower): the protocol, its
// compression, the edge's shipper and the sink's dispatcher
// (docs/relay.md).
//
// What it guarantees:
//
//   - Nothing acknowledged is lost. The edge (Edge, a server.Shipper behind
//     the ordinary bridge server) answers a master only after the part is
//     fsynced in the table's spool (ack = spool) or after the sink reported
//     the follower's acknowledgement (ack = follower). The spool is
//     truncated only by the sink's acknowledgements, which the sink sends
//     only for records the follower acknowledged.
//   - Order. Records of a table reach the follower's routers in LSN order;
//     after a reconnect or an edge restart the sink dispatches each record
//     once (its dispatched watermark). After a sink restart the edge resends
//     everything unacknowledged, flagged, and the sink marks the resent PUTs
//     verify_timetag (except tied ones) so that the follower keeps newer
//     values (docs/relay.md §2.7 states the invariant and its limits).
//   - Bounded resources. Frames are bounded before allocation; a shipment
//     that claims or decompresses beyond relay_max_shipment is refused (the
//     zip-bomb guard); the edge keeps at most relay_window_* unacknowledged;
//     a full spool holds the master's requests (back-pressure).
//   - Refusals are explicit. A wrong token (compared in constant time), an
//     unknown table or dictionary, another protocol version or a bad
//     certificate is answered with REFUSE and logged with its reason on both
//     ends; the edge retries every 5 s and its spool keeps every write.
//
// How: one TCP (optionally mutual-TLS) connection per table. The edge reads
// durable records from the spool, batches them (relay_batch_bytes or
// relay_linger), compresses each shipment as one zstd frame (optionally
// with a trained dictionary named in the handshake) and keeps a window of
// them unacknowledged; a reader goroutine applies cumulative ACKs (which
// truncate the spool and release ack = follower waiters) and LAYOUTs (the
// follower's partition count, persisted, advertised to masters). The sink
// decompresses, checks every record before dispatching any, hands the
// parts to the follower routers (server/follower) and acknowledges the
// contiguous prefix of records whose every part the follower acknowledged.
//
// Why this shape: a master's duplication ships one round per round trip
// (duplication.md §3); answering it from a local spool takes the WAN round
// trip out of its critical path, and shipping whole spool records keeps the
// sink a plain bridge downstream: the same routers, the same order rules,
// the same metrics as a direct bridge.
package relay
