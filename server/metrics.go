package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Prometheus export (GET /metrics). Every Server owns its registry; nothing
// is registered with the global default one.
//
// Names without the dupbridge_ prefix are Pegasus's own metric names
// (duplication.md §6.1) for what the bridge is on each side: a follower to
// the masters (dup_requests, dup_time_lag_ms, dup_lagging_writes, observed
// here in the replica face) and a master to the follower
// (dup_shipped_*, exported from the router statistics by server/follower
// through Options.Collectors). Pegasus counts them per replica entity; the
// bridge counts them per configured table (label table).

// refuseCause is why a duplicate request was answered a retryable error
// without being shipped (label cause of dupbridge_requests_refused_total).
type refuseCause uint8

const (
	causePaused refuseCause = iota
	causeNoLayout
	causeMalformed
	causeBadTaskCode
	causeClusterID
	causeRemoved
	numCauses
)

func (c refuseCause) String() string {
	switch c {
	case causePaused:
		return "paused"
	case causeNoLayout:
		return "no_layout"
	case causeMalformed:
		return "malformed"
	case causeBadTaskCode:
		return "bad_task_code"
	case causeClusterID:
		return "cluster_id"
	case causeRemoved:
		return "removed"
	}
	return "unknown"
}

// causeUnknownTable is the cause label of requests for an app id that is
// not configured (no table label: the table is not known).
const causeUnknownTable = "unknown_table"

// lagBucketsMs are the bucket bounds of dup_time_lag_ms.
func lagBucketsMs() []float64 {
	return []float64{1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}
}

// tableMetrics are one table's children of the labelled metrics, resolved
// once in New so that the hot path only adds and observes.
type tableMetrics struct {
	requests   prometheus.Counter  // dup_requests
	lag        prometheus.Observer // dup_time_lag_ms
	lagging    prometheus.Counter  // dup_lagging_writes
	rpcs       prometheus.Counter  // dupbridge_duplicate_rpcs_total
	superseded prometheus.Counter  // dupbridge_superseded_entries_total
	moved      prometheus.Counter  // dupbridge_moved_entries_total
	refused    [numCauses]prometheus.Counter
}

// serverMetrics are the labelled metrics of a Server.
type serverMetrics struct {
	requests, lagging, rpcs, superseded, moved, refused *prometheus.CounterVec
	lag                                                 *prometheus.HistogramVec
	// unknownTable and unknownRPCs are the children of refused and rpcs
	// for requests whose app id is not configured.
	unknownTable, unknownRPCs prometheus.Counter
}

// received records n entries of one request received for the table, of
// which lagging exceeded the lagging-write threshold. Any goroutine.
func (m *tableMetrics) received(n, lagging int) {
	if n > 0 {
		m.requests.Add(float64(n))
	}
	if lagging > 0 {
		m.lagging.Add(float64(lagging))
	}
}

// newMetrics builds the Server's registry: its own metrics, the tables'
// children, the Go and process collectors, and opts.Collectors.
func (s *Server) newMetrics() error {
	reg := prometheus.NewRegistry()
	s.reg = reg
	tl := []string{"table"}
	m := &serverMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dup_requests",
			Help: "Duplicate entries received from masters; mirrors the Pegasus follower metric dup_requests (per entry)."}, tl),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dup_time_lag_ms",
			Help:    "Bridge now minus the master timestamp of each entry received, in ms; mirrors the Pegasus follower metric dup_time_lag_ms (a percentile there).",
			Buckets: lagBucketsMs()}, tl),
		lagging: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dup_lagging_writes",
			Help: "Entries received whose lag exceeds lagging_write_threshold; mirrors the Pegasus follower metric dup_lagging_writes."}, tl),
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_duplicate_rpcs_total",
			Help: "Duplicate RPCs admitted from masters (table is empty for an unconfigured app id)."}, tl),
		superseded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_superseded_entries_total",
			Help: "Entries not forwarded because a newer write of the same key already had been."}, tl),
		moved: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_moved_entries_total",
			Help: "Entries routed to a follower partition other than their request's partition."}, tl),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_requests_refused_total",
			Help: "Duplicate requests answered a retryable error before shipping, by cause (table is empty for unknown_table)."},
			[]string{"table", "cause"}),
	}
	m.unknownTable = m.refused.WithLabelValues("", causeUnknownTable)
	m.unknownRPCs = m.rpcs.WithLabelValues("")
	cs := []prometheus.Collector{m.requests, m.lag, m.lagging, m.rpcs, m.superseded, m.moved, m.refused}

	s.metrics = m
	for _, ts := range s.tabs().byName {
		cs = append(cs, s.bindTableMetrics(ts)...)
	}

	c := &s.stats
	counter := func(name, help string, v func() int64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v()) })
	}
	gauge := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(v()) })
	}
	const metaHelp = "Meta-face requests received, by RPC."
	cs = append(cs,
		counter("dupbridge_connections_opened_total", "Connections accepted on the RPC port.", c.connectionsOpened.Load, nil),
		gauge("dupbridge_connections_open", "Connections open on the RPC port.", c.connectionsOpen.Load),
		counter("dupbridge_framing_errors_total", "Connections closed for a framing error.", c.framingErrors.Load, nil),
		counter("dupbridge_unknown_rpcs_total", "Requests answered ERR_HANDLER_NOT_FOUND.", c.unknownRPCs.Load, nil),
		counter("dupbridge_stray_responses_total", "Responses received on the server port and ignored.", c.strayResponses.Load, nil),
		counter("dupbridge_bad_meta_bodies_total", "Meta requests whose body did not decode.", c.badBodies.Load, nil),
		counter("dupbridge_meta_requests_total", metaHelp, c.queryConfig.Load, prometheus.Labels{"rpc": "query_config"}),
		counter("dupbridge_meta_requests_total", metaHelp, c.listApps.Load, prometheus.Labels{"rpc": "list_apps"}),
		counter("dupbridge_meta_requests_total", metaHelp, c.createApp.Load, prometheus.Labels{"rpc": "create_app"}),
		counter("dupbridge_accepted_entries_total", "Entries of duplicate requests that passed validation (forwarded or superseded).", c.dupEntries.Load, nil),
		counter("dupbridge_parts_total", "Follower-partition parts handed to the shipper.", c.dupParts.Load, nil),
		counter("dupbridge_acked_requests_total", "Duplicate requests answered error 0.", c.dupAcked.Load, nil),
		counter("dupbridge_retryable_requests_total", "Duplicate requests answered a retryable error (every cause, including failed parts).", c.dupRetryable.Load, nil),
		counter("dupbridge_failed_parts_total", "Parts the shipper reported failed (their requests got error 13).", c.partsFailed.Load, nil),
		counter("dupbridge_skipped_parts_total", "Parts dropped by failure_policy=skip (data loss, acknowledged to the master).", c.partsSkipped.Load, nil),
		counter("dupbridge_lost_replies_total", "Replies completed after their connection closed.", c.repliesLost.Load, nil),
		gauge("dupbridge_inflight_bytes", "Bytes held for duplicate requests not yet acknowledged and for replies not yet read by their peer.", s.inflight.Load),
		gauge("dupbridge_waiting_bytes", "Bytes received from peers and not yet decoded (partial or waiting frames).", s.waiting.Load),
		gauge("dupbridge_inflight_requests", "Duplicate requests shipped and not yet answered.", c.inflightRequests.Load),
		gauge("dupbridge_max_inflight_bytes", "The max_inflight_bytes cap.", s.maxInflight.Load),
		counter("dupbridge_stalls_total", "Times a connection stopped decoding at the in-flight cap.", c.stalls.Load, nil),
		counter("dupbridge_accept_errors_total", "Failed accepts on the RPC port (EMFILE, ENFILE, ...) and failed hand-overs of accepted connections to an event loop, each waited out with a back-off.", c.acceptErrors.Load, nil),
		counter("dupbridge_client_reads_forwarded_total", "Client reads sent on to the follower partition owning the key.", c.readsForwarded.Load, nil),
		counter("dupbridge_client_reads_failed_total", "Client reads answered ERR_OBJECT_NOT_FOUND: no route yet or the follower did not answer.", c.readsFailed.Load, nil),
		counter("dupbridge_client_writes_refused_total", "Client writes refused with ERR_DISK_INSUFFICIENT (the follower is written by duplication only).", c.writesRefused.Load, nil),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for r := range numReasons {
		cs = append(cs, counter("dupbridge_connections_refused_total",
			"Connections refused at accept or closed by the bridge, by reason (limit, peer_limit, not_allowed, idle, frame_timeout, budget, unread_replies).",
			c.refused[r].Load, prometheus.Labels{"reason": r.String()}))
	}
	cs = append(cs, s.opts.Collectors...)
	for _, col := range cs {
		if err := reg.Register(col); err != nil {
			return err
		}
	}
	return nil
}

// bindTableMetrics resolves ts's children of the labelled metrics and
// returns its own collectors (paused gauge, readiness gauges), which the
// caller registers; ts keeps them so that a reload can unregister them.
func (s *Server) bindTableMetrics(ts *tableState) []prometheus.Collector {
	m, name := s.metrics, ts.cfg.Name
	tm := &tableMetrics{
		requests:   m.requests.WithLabelValues(name),
		lag:        m.lag.WithLabelValues(name),
		lagging:    m.lagging.WithLabelValues(name),
		rpcs:       m.rpcs.WithLabelValues(name),
		superseded: m.superseded.WithLabelValues(name),
		moved:      m.moved.WithLabelValues(name),
	}
	for c := range numCauses {
		tm.refused[c] = m.refused.WithLabelValues(name, c.String())
	}
	ts.m = tm
	ts.collectors = append([]prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dupbridge_table_paused",
		Help: "1 while the table is paused (masters get error 13, nothing is shipped).", ConstLabels: prometheus.Labels{"table": name}},
		func() float64 {
			if ts.paused.Load() {
				return 1
			}
			return 0
		})}, s.readinessCollectors(ts)...)
	return ts.collectors
}

// dropTableMetrics forgets a table removed by a reload: its collectors and
// its series of the labelled metrics (the table label stays bounded by the
// configured tables).
func (s *Server) dropTableMetrics(ts *tableState) {
	for _, c := range ts.collectors {
		s.reg.Unregister(c)
	}
	m, name := s.metrics, ts.cfg.Name
	for _, v := range []interface{ DeleteLabelValues(...string) bool }{m.requests, m.lag, m.lagging, m.rpcs, m.superseded, m.moved} {
		v.DeleteLabelValues(name)
	}
	for c := range numCauses {
		m.refused.DeleteLabelValues(name, c.String())
	}
}

// Registry is the Server's Prometheus registry (served at /metrics); more
// collectors may be registered on it. Any goroutine.
func (s *Server) Registry() *prometheus.Registry { return s.reg }
