package server

import "sync/atomic"

// Stats is a snapshot of the server's counters (every field is a monotonic
// count unless marked as a gauge). GET /metrics exports them as dupbridge_*
// metrics (metrics.go), with per-table counterparts where they apply.
type Stats struct {
	ConnectionsOpened int64 `json:"connections_opened"`
	ConnectionsOpen   int64 `json:"connections_open"` // gauge
	FramingErrors     int64 `json:"framing_errors"`   // connections closed for a framing error
	UnknownRPCs       int64 `json:"unknown_rpcs"`     // answered ERR_HANDLER_NOT_FOUND
	StrayResponses    int64 `json:"stray_responses"`  // responses received on the server port, ignored
	BadBodies         int64 `json:"bad_bodies"`       // meta requests whose body did not decode

	QueryConfig int64 `json:"query_config"`
	ListApps    int64 `json:"list_apps"`
	CreateApp   int64 `json:"create_app"`

	DupRequests int64 `json:"dup_requests"` // RPC_RRDB_RRDB_DUPLICATE received
	DupEntries  int64 `json:"dup_entries"`  // entries shipped
	DupParts    int64 `json:"dup_parts"`    // parts handed to the shipper
	DupMoved    int64 `json:"dup_moved"`    // entries routed to a follower partition other than the request's gpid partition
	DupAcked    int64 `json:"dup_acked"`    // requests answered error 0
	// DupSuperseded counts entries not forwarded because a newer write of
	// the same key had already been (keyorder: the master's concurrent
	// hash queues and retries can deliver writes of one key out of order).
	DupSuperseded int64 `json:"dup_superseded"`
	DupRetryable  int64 `json:"dup_retryable"`  // requests answered a retryable error (all causes)
	ClusterIDRej  int64 `json:"cluster_id_rej"` // requests refused for a foreign/own/missing cluster id
	Malformed     int64 `json:"malformed"`      // requests refused for a malformed body or entry
	BadTaskCode   int64 `json:"bad_task_code"`  // requests refused for an entry's task code
	UnknownTable  int64 `json:"unknown_table"`  // app id not configured (ERR_OBJECT_NOT_FOUND)
	Paused        int64 `json:"paused"`         // requests refused while the table is paused
	NoLayout      int64 `json:"no_layout"`      // requests refused before the follower layout is known
	PartsFailed   int64 `json:"parts_failed"`   // parts the shipper reported failed
	PartsSkipped  int64 `json:"parts_skipped"`  // parts dropped by failure_policy=skip
	RepliesLost   int64 `json:"replies_lost"`   // replies completed after their connection closed

	InflightBytes    int64 `json:"inflight_bytes"`    // gauge
	InflightRequests int64 `json:"inflight_requests"` // gauge
	Stalls           int64 `json:"stalls"`            // times a connection stopped decoding at the cap

	ReadsForwarded int64 `json:"reads_forwarded"` // client reads sent on to the follower
	ReadsFailed    int64 `json:"reads_failed"`    // client reads answered ERR_OBJECT_NOT_FOUND: no route, follower unreachable
	WritesRefused  int64 `json:"writes_refused"`  // client writes answered ERR_DISK_INSUFFICIENT
}

// counters are the live atomics behind Stats.
type counters struct {
	connectionsOpened, connectionsOpen, framingErrors, unknownRPCs, strayResponses, badBodies atomic.Int64
	queryConfig, listApps, createApp                                                          atomic.Int64
	dupRequests, dupEntries, dupParts, dupMoved, dupAcked, dupRetryable, dupSuperseded        atomic.Int64
	clusterIDRej, malformed, badTaskCode, unknownTable, paused, noLayout                      atomic.Int64
	partsFailed, partsSkipped, repliesLost                                                    atomic.Int64
	inflightRequests, stalls                                                                  atomic.Int64
	readsForwarded, readsFailed, writesRefused                                                atomic.Int64
}

func (c *counters) snapshot(inflight int64) Stats {
	return Stats{
		ConnectionsOpened: c.connectionsOpened.Load(),
		ConnectionsOpen:   c.connectionsOpen.Load(),
		FramingErrors:     c.framingErrors.Load(),
		UnknownRPCs:       c.unknownRPCs.Load(),
		StrayResponses:    c.strayResponses.Load(),
		BadBodies:         c.badBodies.Load(),
		QueryConfig:       c.queryConfig.Load(),
		ListApps:          c.listApps.Load(),
		CreateApp:         c.createApp.Load(),
		DupRequests:       c.dupRequests.Load(),
		DupEntries:        c.dupEntries.Load(),
		DupParts:          c.dupParts.Load(),
		DupMoved:          c.dupMoved.Load(),
		DupSuperseded:     c.dupSuperseded.Load(),
		DupAcked:          c.dupAcked.Load(),
		DupRetryable:      c.dupRetryable.Load(),
		ClusterIDRej:      c.clusterIDRej.Load(),
		Malformed:         c.malformed.Load(),
		BadTaskCode:       c.badTaskCode.Load(),
		UnknownTable:      c.unknownTable.Load(),
		Paused:            c.paused.Load(),
		NoLayout:          c.noLayout.Load(),
		PartsFailed:       c.partsFailed.Load(),
		PartsSkipped:      c.partsSkipped.Load(),
		RepliesLost:       c.repliesLost.Load(),
		InflightBytes:     inflight,
		InflightRequests:  c.inflightRequests.Load(),
		Stalls:            c.stalls.Load(),
		ReadsForwarded:    c.readsForwarded.Load(),
		ReadsFailed:       c.readsFailed.Load(),
		WritesRefused:     c.writesRefused.Load(),
	}
}
