package metaproxy_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// 10,000 tables through a 1,024-table cache: every query is answered, the
// cache and its watch goroutines stay bounded, evicted tables are read
// again on their next query, and a cached table's watch still works.
func TestCacheBound(t *testing.T) {
	tables, capacity := 10000, 1024
	if testing.Short() {
		tables, capacity = 2000, 256
	}
	r := root(t)
	st := newStore(t, r)
	sim := startSim(t, map[string]int{"t00000": 4})
	other := startSim(t, map[string]int{"t00000": 8})
	put(t, st, "t00000", "A", sim) // creates the root too
	createMany(t, r, 1, tables, fmt.Sprintf(`{"cluster_name":"A","meta_addrs":%q}`, sim.MetaAddr()))
	before := runtime.NumGoroutine()
	p := startProxy(t, r, proxyOpts{cacheTables: capacity})

	var next atomic.Int64
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		m := client(t, p.Addr().String(), rpcclient.Options{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < tables; i = int(next.Add(1)) - 1 {
				// The simulator has only t00000: the others are answered
				// ERR_OBJECT_NOT_FOUND by the real meta, through the proxy.
				n, e := query(m, fmt.Sprintf("t%05d", i))
				if (i == 0 && n != 4) || (i > 0 && e != codec.ErrorObjectNotFound) {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d of %d queries answered wrongly", wrong.Load(), tables)
	}
	s := p.Status()
	if s.Cached != capacity {
		t.Errorf("cached %d tables, want %d", s.Cached, capacity)
	}
	if ev := gauge(t, p, "dupbridge_metaproxy_cache_evictions_total"); int(ev) != tables-capacity {
		t.Errorf("evictions = %v, want %d", ev, tables-capacity)
	}
	// One watch goroutine per cached table, and the evicted ones ended.
	eventually(t, 5*time.Second, "watch goroutines of evicted tables did not end", func() bool {
		return runtime.NumGoroutine() < before+capacity+100
	})
	m := client(t, p.Addr().String(), rpcclient.Options{})
	// t00000 was evicted long ago: read again (a miss), and watched again.
	misses := counter(t, p, "dupbridge_metaproxy_cache_misses_total", `table="t00000"`)
	if n, e := query(m, "t00000"); n != 4 {
		t.Fatalf("re-read t00000: %d %s", n, e)
	}
	if got := counter(t, p, "dupbridge_metaproxy_cache_misses_total", `table="t00000"`); got != misses+1 {
		t.Errorf("misses of t00000: %v then %v", misses, got)
	}
	put(t, st, "t00000", "B", other)
	eventually(t, 3*time.Second, "move of a re-cached table not seen", func() bool {
		n, _ := query(m, "t00000")
		return n == 8
	})
	// Label cardinality stays bounded: the tables past the first 256 share
	// one series.
	if v := counter(t, p, "dupbridge_metaproxy_queries_total", `table="_other"`); v < float64(tables-256-8) {
		t.Errorf(`queries{table="_other"} = %v`, v)
	}
}

// createMany creates <root>/tNNNNN for from ≤ N < to with data, in batches.
func createMany(t *testing.T, root string, from, to int, data string) {
	t.Helper()
	zc, _, err := zk.Connect([]string{zks.Addr}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	for i := from; i < to; {
		var ops []any
		for ; i < to && len(ops) < 500; i++ {
			ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("%s/t%05d", root, i), Data: []byte(data), Acl: zk.WorldACL(zk.PermAll)})
		}
		if _, err := zc.Multi(ops...); err != nil {
			t.Fatal(err)
		}
	}
}
