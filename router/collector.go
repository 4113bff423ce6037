package router

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the Stats of a set of Tables as Prometheus metrics
// (prefix dupbridge_router_, labels table and, where it applies,
// partition or error). Tables is called at each scrape, so tables that
// open or close later are picked up. It is an unchecked collector: its
// label sets depend on the tables.
type Collector struct {
	Tables func() []*Table
	// Label, when set, gives the value of the table label of a Table (e.g.
	// the name its users know it by); the follower table name
	// (Stats().Table) when nil.
	Label func(*Table) string
}

// Describe implements prometheus.Collector (unchecked: sends nothing).
func (Collector) Describe(chan<- *prometheus.Desc) {}

var (
	partLabels  = []string{"table", "partition"}
	tableLabels = []string{"table"}
)

func desc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc("dupbridge_router_"+name, help, labels, nil)
}

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	if c.Tables == nil {
		return
	}
	var (
		shippedBatches = desc("shipped_batches_total", "Shipments acknowledged by the follower.", partLabels)
		shippedEntries = desc("shipped_entries_total", "Duplicate entries acknowledged by the follower.", partLabels)
		shippedBytes   = desc("shipped_bytes_total", "Body bytes of acknowledged shipments.", partLabels)
		rpcs           = desc("rpcs_total", "Successful duplicate RPCs (coalesced shipments count once).", partLabels)
		retries        = desc("retries_total", "Failed duplicate attempts (each retried or skipped).", partLabels)
		skippedBatches = desc("skipped_batches_total", "Shipments dropped by the skip failure policy.", partLabels)
		skippedEntries = desc("skipped_entries_total", "Entries dropped by the skip failure policy.", partLabels)
		queued         = desc("queued_shipments", "Shipments not yet done.", partLabels)
		queuedBytes    = desc("queued_bytes", "Body bytes of shipments not yet done.", partLabels)
		inFlight       = desc("in_flight", "1 while a duplicate RPC of the partition is on the wire.", partLabels)
		partitions     = desc("partitions", "Effective follower partition count.", tableLabels)
		refreshes      = desc("refreshes_total", "Follower meta queries.", tableLabels)
		refreshFails   = desc("refresh_failures_total", "Failed follower meta queries.", tableLabels)
		layoutChanges  = desc("layout_changes_total", "Follower partition layout changes applied.", tableLabels)
		resplit        = desc("resplit_total", "Shipments re-split for another partition count.", tableLabels)
		resplitFail    = desc("resplit_fallback_total", "Shipments that could not be re-split and went whole.", tableLabels)
		invalidArg     = desc("invalid_argument_total", "Follower answers with error 4 (InvalidArgument).", tableLabels)
		errs           = desc("errors_total", "Failed attempts by error name.", []string{"table", "error"})
		rpcLatency     = desc("rpc_latency_seconds", "Latency of successful duplicate RPCs.", tableLabels)
		ackLatency     = desc("ack_latency_seconds", "Time from Ship to acknowledgement.", tableLabels)
	)
	bounds := LatencyBounds()
	hist := func(d *prometheus.Desc, h Histogram, table string) {
		b := make(map[float64]uint64, len(bounds))
		for i, v := range bounds {
			b[v] = h.Buckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum, b, table)
	}
	counter := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	for _, t := range c.Tables() {
		if t == nil {
			continue
		}
		st := t.Stats()
		tn := st.Table
		if c.Label != nil {
			tn = c.Label(t)
		}
		for i, p := range st.Partitions {
			pi := strconv.Itoa(i)
			counter(shippedBatches, p.ShippedBatches, tn, pi)
			counter(shippedEntries, p.ShippedEntries, tn, pi)
			counter(shippedBytes, p.ShippedBytes, tn, pi)
			counter(rpcs, p.RPCs, tn, pi)
			counter(retries, p.Retries, tn, pi)
			counter(skippedBatches, p.SkippedBatches, tn, pi)
			counter(skippedEntries, p.SkippedEntries, tn, pi)
			gauge(queued, float64(p.Queued), tn, pi)
			gauge(queuedBytes, float64(p.QueuedBytes), tn, pi)
			fl := 0.0
			if p.InFlight {
				fl = 1
			}
			gauge(inFlight, fl, tn, pi)
		}
		gauge(partitions, float64(st.PartitionCount), tn)
		counter(refreshes, st.Refreshes, tn)
		counter(refreshFails, st.RefreshFailures, tn)
		counter(layoutChanges, st.LayoutChanges, tn)
		counter(resplit, st.Resplit, tn)
		counter(resplitFail, st.ResplitFallback, tn)
		counter(invalidArg, st.InvalidArgument, tn)
		for name, v := range st.Errors {
			counter(errs, v, tn, name)
		}
		hist(rpcLatency, st.RPCLatency, tn)
		hist(ackLatency, st.AckLatency, tn)
	}
}
