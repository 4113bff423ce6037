// Package server is dupbridge's RPC endpoint: a gnet event handler that
// looks, to a Pegasus duplication master, like the follower cluster's meta
// server and like the primary of every follower partition (design.md, "The
// life of one duplicate RPC", steps 1, 2, 3, 4 and 6).
//
// # Connections
//
// Each connection's framing (RDSN or THFT) is detected from its first four
// bytes (wire.md §0.1). OnTraffic peeks at every byte gnet buffered, decodes
// complete frames in place (codec.Decoder), dispatches each, and discards
// what it consumed; a partial frame stays in gnet's buffer until more bytes
// arrive. Nothing that aliases gnet's buffer survives the callback: the
// replica face copies each entry exactly once, into the outgoing bodies, and
// replies completed later keep a copy of the response header only. Requests
// are pipelined; each reply carries its request's id, in completion order.
// A framing error closes that connection only, with a logged reason.
//
// # Dispatch
//
// A Face (face.go), when configured, is asked first for every request: the
// meta-proxy (package metaproxy) runs on a Server of its own that way.
// Meta face (meta.go): RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX,
// RPC_CM_LIST_APPS, RPC_CM_CREATE_APP; the header gpid is ignored (it is
// (0, 0), and meta RPCs are never partition RPCs, wire.md §1.3). Replica face
// (replica.go): RPC_RRDB_RRDB_DUPLICATE. Client storage RPCs (reads.go):
// reads are forwarded to the follower partition owning the key when the
// Shipper is a ReadForwarder, writes are refused with ERR_DISK_INSUFFICIENT.
// Any other name gets ERR_HANDLER_NOT_FOUND with the _ACK name and an empty
// body.
//
// # Concurrency contract
//
// gnet runs OnTraffic/OnOpen/OnClose of one connection on that connection's
// event loop; loops run in parallel. Per-connection decode state is touched
// only there. Work that completes elsewhere (a part acknowledged by the
// follower, a follower table created) appends its reply to the
// connection's outbox under a mutex and wakes the connection (gnet.Conn.Wake,
// coalesced); the loop then writes the outbox from inside OnTraffic, where
// gnet writes straight to the socket. No goroutine per write, and no
// AsyncWrite of large buffers.
//
// # Back-pressure
//
// Bytes held for requests not yet answered, and replies not yet read, are
// counted against [dupbridge] max_inflight_bytes. A duplicate request that
// does not fit is left undecoded and the connection is parked; when acks
// free memory, parked connections are woken and decode again. The master
// thus sees slower answers, never errors (design.md "Bounded memory").
// gnet keeps reading the socket meanwhile (it cannot pause a connection's
// reads), so bytes received and not yet decoded are counted too, in a
// waiting room of WaitRoom bytes, and per connection against
// max_connection_bytes (budget.go). A master stays within them: what it
// sends unanswered is bounded by its own in-flight discipline
// (duplication.md §3.7: one request per hash queue). A peer that exceeds
// them, or holds more than a small grace while the room is full, is closed
// with a logged reason. A connection whose peer does not read its replies
// (outbound above Options.MaxOutbound) stops being decoded; it is closed if
// its requests keep arriving beyond its budget or its replies stay unread
// for frame_timeout. Frames above 64 KiB are moved out of gnet's buffer as
// they arrive into one of the connection's own, dropped after dispatch, so
// that no buffer stays grown after a large frame.
//
// # Connections
//
// The bridge accepts with its own listener (listener.go), because gnet's
// acceptor stops the whole engine on EMFILE: accept errors are backed off
// and counted. allowed_peers, max_connections (kept below RLIMIT_NOFILE)
// and max_connections_per_peer are applied before a connection reaches an
// event loop; frame_timeout and idle_timeout are enforced by a sweep on
// gnet's ticker (timeouts.go). Every refusal and every close decided by the
// bridge is counted by reason (dupbridge_connections_refused_total).
//
// # Operating
//
// A duplicate request goes through named steps (replica.go): admit (the
// in-flight cap), precheck (paused or removed table, unknown layout),
// validate (every entry, before anything ships), split (per follower
// partition, through the per-key order guard) and ship; every refusal is
// one refuse step that counts, logs and answers error 13. What is counted
// per table lives only in the Prometheus metrics, and Stats sums it: one
// set of counters behind /status and /metrics.
//
// Table controls (control.go: pause, start, remove, fail mode) are written
// to state_dir (ctlstate) before they take effect, and restored by New. A
// reload (reload.go) swaps in a new table set copy-on-write, so a request
// sees one consistent set; the master connections are untouched, and a
// configuration that changes what only a restart can change is refused
// whole. ops.go serves /duplication, the control calls, the log level and
// reload; page.go the status page at /.
package server
