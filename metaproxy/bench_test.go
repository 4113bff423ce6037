package metaproxy_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/metaproxy"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// BenchmarkQueryConfig: query-config throughput and p99 through the proxy
// (ours, warm cache: every mapping cached and watched) against the same
// queries sent straight to the simulator's meta (baseline), side by side.
// Clients: 32 goroutines over 4 pipelined RDSN connections. one-table: all
// ask for the same table, so identical queries in flight are coalesced;
// distinct-tables: each client asks for a table of its own, so every query
// is forwarded.
func BenchmarkQueryConfig(b *testing.B) {
	st, err := metaproxy.Dial([]string{zks.Addr}, "/dupbridge-bench", metaproxy.StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	specs := map[string]int{}
	var tables []string
	for i := 0; i < 32; i++ {
		tables = append(tables, fmt.Sprintf("bench%02d", i))
		specs[tables[i]] = 8
	}
	sim := startSim(b, specs)
	for _, t := range tables {
		if _, err := st.Put(t, metaproxy.Record{ClusterName: "A", MetaAddrs: sim.MetaAddr()}, metaproxy.AnyVersion); err != nil {
			b.Fatal(err)
		}
	}
	p := startProxy(b, "/dupbridge-bench", proxyOpts{})
	for _, load := range []struct {
		name   string
		tables []string
	}{{"one-table", tables[:1]}, {"distinct-tables", tables}} {
		for _, side := range []struct{ name, addr string }{{"ours", p.Addr().String()}, {"baseline", sim.MetaAddr()}} {
			b.Run(load.name+"/"+side.name, func(b *testing.B) { benchQueries(b, side.addr, load.tables) })
		}
	}
}

func benchQueries(b *testing.B, addr string, tables []string) {
	metas := make([]*rpcclient.Meta, 4)
	for i := range metas {
		m, err := rpcclient.NewMeta([]string{addr}, rpcclient.MetaOptions{Rounds: 1})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		for _, t := range tables { // warm: connected, every table cached
			if _, err := m.QueryConfig(context.Background(), t, nil); err != nil {
				b.Fatal(err)
			}
		}
		metas[i] = m
	}
	var mu sync.Mutex
	var lat []time.Duration
	var next int
	b.SetParallelism(16) // 32 clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		m, table := metas[next%len(metas)], tables[next%len(tables)]
		next++
		mu.Unlock()
		own := make([]time.Duration, 0, 1024)
		ctx := context.Background()
		for pb.Next() {
			start := time.Now()
			tc, err := m.QueryConfig(ctx, table, nil)
			own = append(own, time.Since(start))
			if err != nil || tc.PartitionCount != 8 {
				b.Errorf("query: %v", err)
				return
			}
		}
		mu.Lock()
		lat = append(lat, own...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
	}
}
