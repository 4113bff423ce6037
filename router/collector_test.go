package router

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/rpcclient"
)

func TestCollector(t *testing.T) {
	f := newFake(2)
	var failed atomic.Bool
	f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
		if !failed.Swap(true) {
			return &rpcclient.Response{Err: codec.ErrorBusy}, nil, false
		}
		return nil, nil, true
	}
	tb := openTable(t, f, nil)
	res := newResults()
	tb.Ship(1, shipment(2, keysFor(1, 2, 1)[0], 1, keysFor(1, 2, 1)[0], 2), res.cb(1))
	res.wait(t, 5*time.Second)

	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector{Tables: func() []*Table { return []*Table{tb, nil} }})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"dupbridge_router_shipped_entries_total,partition=0,table=t": 0,
		"dupbridge_router_shipped_entries_total,partition=1,table=t": 2,
		"dupbridge_router_retries_total,partition=1,table=t":         1,
		"dupbridge_router_errors_total,error=ERR_BUSY,table=t":       1,
		"dupbridge_router_partitions,table=t":                        2,
		"dupbridge_router_ack_latency_seconds,table=t":               1,
		"dupbridge_router_rpc_latency_seconds,table=t":               1,
		"dupbridge_router_queued_bytes,partition=1,table=t":          0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

// TestCollectorLabel: Label renames the table label of every series.
func TestCollectorLabel(t *testing.T) {
	tb := openTable(t, newFake(2), nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector{Tables: func() []*Table { return []*Table{tb} }, Label: func(*Table) string { return "bridge_name" }})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" {
					n++
					if l.GetValue() != "bridge_name" {
						t.Errorf("%s: table=%q", mf.GetName(), l.GetValue())
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no series with a table label")
	}
}
