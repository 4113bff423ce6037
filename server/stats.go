package server

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Stats is a snapshot of the server's counters (every field is a monotonic
// count unless marked as a gauge). One set of counters: what is counted per
// table lives in the Prometheus metrics (metrics.go) and is summed here;
// the rest are the atomics of counters, which /metrics exports as
// dupbridge_* metrics.
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
	Removed       int64 `json:"removed"`        // requests refused for a table removed from duplication (ctl remove)
	NoLayout      int64 `json:"no_layout"`      // requests refused before the follower layout is known
	PartsFailed   int64 `json:"parts_failed"`   // parts the shipper reported failed
	PartsSkipped  int64 `json:"parts_skipped"`  // parts dropped by failure_policy=skip
	RepliesLost   int64 `json:"replies_lost"`   // replies completed after their connection closed

	InflightBytes    int64 `json:"inflight_bytes"`    // gauge: admitted requests and unread replies
	WaitingBytes     int64 `json:"waiting_bytes"`     // gauge: received, not yet decoded
	InflightRequests int64 `json:"inflight_requests"` // gauge
	Stalls           int64 `json:"stalls"`            // times a connection stopped decoding at the cap

	// ConnectionsRefused counts connections refused at accept or closed by
	// the bridge, by reason (limit, peer_limit, not_allowed, idle,
	// frame_timeout, budget, unread_replies).
	ConnectionsRefused map[string]int64 `json:"connections_refused"`
	AcceptErrors       int64            `json:"accept_errors"`   // failed accepts or hand-overs to a loop, each waited out
	ReadsForwarded     int64            `json:"reads_forwarded"` // client reads sent on to the follower
	ReadsFailed        int64            `json:"reads_failed"`    // client reads answered ERR_OBJECT_NOT_FOUND: no route, follower unreachable
	WritesRefused      int64            `json:"writes_refused"`  // client writes answered ERR_DISK_INSUFFICIENT
}

// counters are the live atomics behind Stats.
type counters struct {
	connectionsOpened, connectionsOpen, framingErrors, unknownRPCs, strayResponses, badBodies atomic.Int64
	queryConfig, listApps, createApp                                                          atomic.Int64
	dupEntries, dupParts, dupAcked, dupRetryable                                              atomic.Int64
	partsFailed, partsSkipped, repliesLost                                                    atomic.Int64
	inflightRequests, stalls                                                                  atomic.Int64
	refused                                                                                   [numReasons]atomic.Int64
	acceptErrors                                                                              atomic.Int64
	readsForwarded, readsFailed, writesRefused                                                atomic.Int64
}

func (c *counters) snapshot(inflight int64) Stats {
	return Stats{
		ConnectionsOpened:  c.connectionsOpened.Load(),
		ConnectionsOpen:    c.connectionsOpen.Load(),
		FramingErrors:      c.framingErrors.Load(),
		UnknownRPCs:        c.unknownRPCs.Load(),
		StrayResponses:     c.strayResponses.Load(),
		BadBodies:          c.badBodies.Load(),
		QueryConfig:        c.queryConfig.Load(),
		ListApps:           c.listApps.Load(),
		CreateApp:          c.createApp.Load(),
		DupEntries:         c.dupEntries.Load(),
		DupParts:           c.dupParts.Load(),
		DupAcked:           c.dupAcked.Load(),
		DupRetryable:       c.dupRetryable.Load(),
		PartsFailed:        c.partsFailed.Load(),
		PartsSkipped:       c.partsSkipped.Load(),
		RepliesLost:        c.repliesLost.Load(),
		InflightBytes:      inflight,
		InflightRequests:   c.inflightRequests.Load(),
		Stalls:             c.stalls.Load(),
		ConnectionsRefused: c.refusedMap(),
		AcceptErrors:       c.acceptErrors.Load(),
		ReadsForwarded:     c.readsForwarded.Load(),
		ReadsFailed:        c.readsFailed.Load(),
		WritesRefused:      c.writesRefused.Load(),
	}
}

func (c *counters) refusedMap() map[string]int64 {
	m := make(map[string]int64, numReasons)
	for r := range numReasons {
		m[r.String()] = c.refused[r].Load()
	}
	return m
}

// addTableCounts fills st's per-table counts from the metrics, summed over
// the tables.
func (m *serverMetrics) addTableCounts(st *Stats, tables map[string]*tableState) {
	st.DupRequests = counterValue(m.unknownRPCs)
	st.UnknownTable = counterValue(m.unknownTable)
	for _, ts := range tables {
		tm := ts.m
		st.DupRequests += counterValue(tm.rpcs)
		st.DupMoved += counterValue(tm.moved)
		st.DupSuperseded += counterValue(tm.superseded)
		st.Paused += counterValue(tm.refused[causePaused])
		st.Removed += counterValue(tm.refused[causeRemoved])
		st.NoLayout += counterValue(tm.refused[causeNoLayout])
		st.Malformed += counterValue(tm.refused[causeMalformed])
		st.BadTaskCode += counterValue(tm.refused[causeBadTaskCode])
		st.ClusterIDRej += counterValue(tm.refused[causeClusterID])
	}
}

// counterValue reads a Prometheus counter (its value is a whole count).
func counterValue(c prometheus.Counter) int64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return int64(m.GetCounter().GetValue())
}
