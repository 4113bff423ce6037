package server

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// numLagBounds is len(lagBucketsMs()) (TestLagHistogram checks it).
const numLagBounds = 15

// lagBounds are lagBucketsMs in µs, the unit entries are compared in.
type lagBounds [numLagBounds]int64

func newLagBounds() *lagBounds {
	var b lagBounds
	for i, ms := range lagBucketsMs() {
		b[i] = int64(ms * 1e3)
	}
	return &b
}

// lagTally counts one request's lags, on the caller's stack: the request's
// entries are added to the table's histogram at once (lagSeries.add), not
// one Observe (three atomic operations on shared cache lines) per entry.
type lagTally struct {
	bounds *lagBounds
	counts [numLagBounds + 1]uint32 // per bucket, not cumulative; last is +Inf
	sumUs  int64
}

func (t *lagTally) observe(lagUs int64) {
	i := 0
	for i < numLagBounds && lagUs > t.bounds[i] {
		i++
	}
	t.counts[i]++
	t.sumUs += lagUs
}

// lagSeries is one table's dup_time_lag_ms.
type lagSeries struct {
	bounds *lagBounds
	counts [numLagBounds + 1]atomic.Uint64
	sumUs  atomic.Int64
}

// tally returns an empty tally for s.
func (s *lagSeries) tally() lagTally { return lagTally{bounds: s.bounds} }

// add merges a request's tally. Any goroutine.
func (s *lagSeries) add(t *lagTally) {
	for i, n := range t.counts {
		if n > 0 {
			s.counts[i].Add(uint64(n))
		}
	}
	if t.sumUs != 0 {
		s.sumUs.Add(t.sumUs)
	}
}

// lagHistogram is the collector of dup_time_lag_ms, one series per table,
// with the table-label methods the bridge uses of a HistogramVec. A scrape
// reads each bucket once; the count is the sum of the buckets, so buckets
// and count always agree (the sum may lead or trail them by the requests
// being added at that moment).
type lagHistogram struct {
	desc   *prometheus.Desc
	bounds *lagBounds

	mu     sync.Mutex
	series map[string]*lagSeries // by table
}

func newLagHistogram(help string) *lagHistogram {
	return &lagHistogram{
		desc:   prometheus.NewDesc("dup_time_lag_ms", help, []string{"table"}, nil),
		bounds: newLagBounds(),
		series: map[string]*lagSeries{},
	}
}

// WithLabelValues returns the series of table, creating it if needed.
func (h *lagHistogram) WithLabelValues(table string) *lagSeries {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.series[table]
	if s == nil {
		s = &lagSeries{bounds: h.bounds}
		h.series[table] = s
	}
	return s
}

// DeleteLabelValues drops the series of a table (lvs: the table name).
func (h *lagHistogram) DeleteLabelValues(lvs ...string) bool {
	if len(lvs) != 1 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.series[lvs[0]]
	delete(h.series, lvs[0])
	return ok
}

// Describe implements prometheus.Collector.
func (h *lagHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector.
func (h *lagHistogram) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	defer h.mu.Unlock()
	bounds := lagBucketsMs()
	for table, s := range h.series {
		buckets := make(map[float64]uint64, len(bounds))
		var cum uint64
		for i, le := range bounds {
			cum += s.counts[i].Load()
			buckets[le] = cum
		}
		cum += s.counts[numLagBounds].Load()
		ch <- prometheus.MustNewConstHistogram(h.desc, cum, float64(s.sumUs.Load())/1e3, buckets, table)
	}
}
