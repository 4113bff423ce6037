package server

import (
	"math/rand/v2"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestLagHistogram: lags tallied per request and added at once export the
// same histogram as one prometheus.Histogram Observe per lag (the metric
// this collector replaced), whatever the requests' sizes.
func TestLagHistogram(t *testing.T) {
	if numLagBounds != len(lagBucketsMs()) {
		t.Fatalf("numLagBounds %d, lagBucketsMs has %d", numLagBounds, len(lagBucketsMs()))
	}
	cases := []struct {
		name    string
		lagsUs  []int64
		perReq  int
		maxLagU int64
	}{
		{"empty", nil, 1, 0},
		{"on the bounds", []int64{1000, 1001, 5000, 3_600_000_000, 3_600_000_001}, 2, 0},
		{"random small requests", nil, 3, 20_000_000},
		{"random large requests", nil, 300, 4_000_000_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lags := c.lagsUs
			if c.maxLagU > 0 {
				rng := rand.New(rand.NewPCG(7, uint64(c.perReq)))
				for range 5000 {
					lags = append(lags, 1+rng.Int64N(c.maxLagU))
				}
			}
			ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ref", Buckets: lagBucketsMs()})
			h := newLagHistogram("help")
			s := h.WithLabelValues("t")
			for i := 0; i < len(lags); i += c.perReq {
				tl := s.tally()
				for _, l := range lags[i:min(i+c.perReq, len(lags))] {
					tl.observe(l)
					ref.Observe(float64(l) / 1e3)
				}
				s.add(&tl)
			}
			want, got := histOf(t, ref), histOf(t, h)
			if got.GetSampleCount() != want.GetSampleCount() || len(got.Bucket) != len(want.Bucket) {
				t.Fatalf("count %d, %d buckets; want %d, %d", got.GetSampleCount(), len(got.Bucket), want.GetSampleCount(), len(want.Bucket))
			}
			for i, b := range want.Bucket {
				if g := got.Bucket[i]; g.GetUpperBound() != b.GetUpperBound() || g.GetCumulativeCount() != b.GetCumulativeCount() {
					t.Errorf("bucket le=%v: %d, want le=%v: %d", g.GetUpperBound(), g.GetCumulativeCount(), b.GetUpperBound(), b.GetCumulativeCount())
				}
			}
			if d := got.GetSampleSum() - want.GetSampleSum(); d > 1e-6*want.GetSampleSum()+1e-9 || -d > 1e-6*want.GetSampleSum()+1e-9 {
				t.Errorf("sum %v, want %v", got.GetSampleSum(), want.GetSampleSum())
			}
		})
	}
}

// histOf collects the one histogram c exports.
func histOf(t *testing.T, c prometheus.Collector) *dto.Histogram {
	t.Helper()
	ch := make(chan prometheus.Metric, 4)
	c.Collect(ch)
	close(ch)
	var out *dto.Histogram
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		out = d.GetHistogram()
	}
	if out == nil {
		t.Fatal("no histogram collected")
	}
	return out
}
