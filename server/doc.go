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
// Bytes held for requests not yet answered are counted against
// [dupbridge] max_inflight_bytes. A duplicate request that does not fit is
// left undecoded in gnet's buffer and the connection is parked; when acks
// free memory, parked connections are woken and decode again. The master
// thus sees slower answers, never errors (design.md "Bounded memory"). gnet
// keeps reading the socket into its own buffer meanwhile (it cannot pause a
// connection's reads); what a master can send unanswered is bounded by its
// own in-flight discipline (duplication.md §3.7: one request per hash
// queue), so that buffer stays bounded too. A connection whose peer does
// not read its replies (outbound above Options.MaxOutbound) is parked the
// same way.
package server
