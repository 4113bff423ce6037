package spool

import "github.com/prometheus/client_golang/prometheus"

// Collector exports the spools' fill level, labelled by table:
// dupbridge_spool_bytes (unacknowledged bytes) and
// dupbridge_spool_capacity_bytes (MaxBytes). Alert rules compare the two.
type Collector struct {
	// Spools by table name; read at each scrape.
	Spools func() map[string]*Spool
}

var (
	bytesDesc = prometheus.NewDesc("dupbridge_spool_bytes",
		"Bytes in the edge's spool not yet acknowledged by the sink (headers included).", []string{"table"}, nil)
	capDesc = prometheus.NewDesc("dupbridge_spool_capacity_bytes",
		"Bound of dupbridge_spool_bytes (spool_bytes); at it the edge stops answering masters.", []string{"table"}, nil)
)

// Describe implements prometheus.Collector.
func (Collector) Describe(ch chan<- *prometheus.Desc) { ch <- bytesDesc; ch <- capDesc }

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	for table, s := range c.Spools() {
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(s.Bytes()), table)
		ch <- prometheus.MustNewConstMetric(capDesc, prometheus.GaugeValue, float64(s.Capacity()), table)
	}
}
