// Package metaproxy is dupbridge's meta-proxy: Pegasus clients list it as
// their meta server, and it forwards each table's query-config to the
// cluster that ZooKeeper says holds the table. Moving a table's traffic to
// another cluster is then one ZooKeeper write (Switch makes it a safe one),
// and no client is reconfigured. It is a drop-in for pegasus-kv/meta-proxy:
// the same ZooKeeper layout and the same answers (docs/metaproxy.md).
//
// What it guarantees:
//
//   - A query-config (RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX) on RDSN or
//     THFT (v0 and v1 headers) is answered with the table's cluster's meta
//     answer, byte for byte, error answers included; leader hints of the
//     cluster's metas are followed and dead metas skipped
//     (rpcclient.Meta).
//   - A table that cannot be resolved gets the error name pegasus-kv's
//     proxy answers, in the response's err field: ERR_OBJECT_NOT_FOUND (no
//     node), ERR_INVALID_DATA (the node's JSON or meta list is bad),
//     ERR_ZOOKEEPER_OPERATION (ZooKeeper failed), ERR_UNKNOWN (no meta of
//     the cluster answered). Any other RPC gets ERR_HANDLER_NOT_FOUND.
//   - A change of a cached table's node is seen through its watch (within
//     milliseconds); a deleted or malformed node leaves the cache, so the
//     next query reports it.
//   - While ZooKeeper is unreachable, cached tables are served as they
//     were; /status marks them stale and dupbridge_metaproxy_zk_stale_seconds
//     says for how long. When the session comes back the watches are still
//     in place (the ZooKeeper client re-sends them with the last zxid it
//     saw, so a change made meanwhile fires); when it expired instead, each
//     lost watch is re-armed by reading the node again.
//   - At most Config.CacheTables tables are cached and watched; the least
//     recently queried one is evicted (its watch goroutine ends).
//
// # How
//
// The proxy is a server.Face hosted by a server.Server of its own: the
// bridge's gnet framing, decoding and reply path, with every request
// handed to Serve. A cached table's query is forwarded from the event loop
// without a goroutine (rpcclient.Meta.GoQueryConfigRaw; completions run on
// the meta connection's reader); an uncached one reads ZooKeeper first on a
// goroutine, one read per table however many queries wait
// (singleflight). One goroutine per cached table follows its watch.
// Identical queries already on their way to the same cluster share its
// answer, which is at most one round trip older than the request.
//
// # Why
//
// pegasus-kv/meta-proxy blocks a goroutine per request and re-decodes and
// re-encodes the meta's answer; it panics on a watch event it cannot
// re-read and refuses a meta list of one. Returning the meta's bytes
// keeps fields the proxy does not know (hp_* of Pegasus 2.6), and serving
// stale tables while ZooKeeper is away keeps clients working through a
// ZooKeeper outage, visibly.
package metaproxy
