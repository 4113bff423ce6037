package spool

import "github.com/prometheus/client_golang/prometheus"

// Collector exports the spools' fill level and the relay's window, labelled
// by table: dupbridge_spool_bytes (unacknowledged bytes) and
// dupbridge_spool_capacity_bytes (MaxBytes), which alert rules compare;
// dupbridge_spool_unacked_records (durable records the sink has not
// acknowledged: the relay's window plus what waits for it) and
// dupbridge_spool_acked_records_total (the acknowledged LSN; LSNs number
// records from 1, so it counts the records the sink acknowledged over the
// spool's life).
type Collector struct {
	// Spools by table name; read at each scrape.
	Spools func() map[string]*Spool
}

var (
	bytesDesc = prometheus.NewDesc("dupbridge_spool_bytes",
		"Bytes in the edge's spool not yet acknowledged by the sink (headers included).", []string{"table"}, nil)
	capDesc = prometheus.NewDesc("dupbridge_spool_capacity_bytes",
		"Bound of dupbridge_spool_bytes (spool_bytes); at it the edge stops answering masters.", []string{"table"}, nil)
	unackedDesc = prometheus.NewDesc("dupbridge_spool_unacked_records",
		"Records durable in the edge's spool and not yet acknowledged by the sink.", []string{"table"}, nil)
	ackedDesc = prometheus.NewDesc("dupbridge_spool_acked_records_total",
		"Spool records acknowledged by the sink (the highest acknowledged LSN).", []string{"table"}, nil)
)

// Describe implements prometheus.Collector.
func (Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- bytesDesc
	ch <- capDesc
	ch <- unackedDesc
	ch <- ackedDesc
}

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	for table, s := range c.Spools() {
		acked, durable := s.Acked(), s.Durable()
		unacked := uint64(0)
		if durable > acked {
			unacked = durable - acked
		}
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(s.Bytes()), table)
		ch <- prometheus.MustNewConstMetric(capDesc, prometheus.GaugeValue, float64(s.Capacity()), table)
		ch <- prometheus.MustNewConstMetric(unackedDesc, prometheus.GaugeValue, float64(unacked), table)
		ch <- prometheus.MustNewConstMetric(ackedDesc, prometheus.CounterValue, float64(acked), table)
	}
}
