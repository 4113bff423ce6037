package metaproxy_test

import (
	"context"
	"fmt"
	"github.com/dupbridge/dupbridge/internal/promtext"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/internal/zktest"
	"github.com/dupbridge/dupbridge/metaproxy"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// zks is the one real ZooKeeper of this package's tests (a JVM start costs
// about a second): every test uses a root path of its own.
var zks *zktest.Server

func TestMain(m *testing.M) {
	var err error
	zks, err = zktest.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "metaproxy tests need ZooKeeper:", err)
		os.Exit(1)
	}
	code := m.Run()
	zks.Close()
	os.Exit(code)
}

// root is a ZooKeeper root path of the test's own.
func root(t *testing.T) string { return "/dupbridge-test/" + t.Name() }

// newStore opens a Store under root on the shared server.
func newStore(t *testing.T, root string) *metaproxy.Store {
	t.Helper()
	st, err := metaproxy.Dial([]string{zks.Addr}, root, metaproxy.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

type proxyOpts struct {
	zk             string // default: the shared server
	sessionTimeout time.Duration
	cacheTables    int
}

// startProxy runs a proxy on a loopback port until the test ends.
func startProxy(t testing.TB, root string, o proxyOpts) *metaproxy.Proxy {
	t.Helper()
	if o.zk == "" {
		o.zk = zks.Addr
	}
	if o.sessionTimeout == 0 {
		o.sessionTimeout = 2 * time.Second
	}
	if o.cacheTables == 0 {
		o.cacheTables = 1024
	}
	cfg := &config.MetaProxy{Listen: "127.0.0.1:0", ZK: []string{o.zk}, Root: root,
		SessionTimeout: o.sessionTimeout, CacheTables: o.cacheTables, EventLoops: 2}
	p, err := metaproxy.New(metaproxy.Options{Config: cfg, QueryTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-p.Ready():
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy Run: %v", err)
		}
	})
	return p
}

// startSim starts a simulated cluster with the given tables (name →
// partition count).
func startSim(t testing.TB, tables map[string]int) *pegasussim.Cluster {
	t.Helper()
	var specs []pegasussim.TableSpec
	for name, n := range tables {
		specs = append(specs, pegasussim.TableSpec{Name: name, Partitions: n})
	}
	sim, err := pegasussim.Start(context.Background(), pegasussim.Options{Replicas: 2, Tables: specs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// framings are the client kinds the proxy serves: C++/Java-style RDSN and
// the THFT headers of Pegasus 1.x (v0) and 2.x (v1) clients.
var framings = []struct {
	name string
	opts rpcclient.Options
}{
	{"rdsn", rpcclient.Options{}},
	{"thft-v0", rpcclient.Options{Framing: codec.FramingTHFT, THFTVersion: 0}},
	{"thft-v1", rpcclient.Options{Framing: codec.FramingTHFT, THFTVersion: 1}},
}

// client is a Pegasus client's meta side pointed at the proxy: our
// rpcclient stands in for Pegasus clients.
func client(t *testing.T, addr string, o rpcclient.Options) *rpcclient.Meta {
	t.Helper()
	m, err := rpcclient.NewMeta([]string{addr}, rpcclient.MetaOptions{Options: o, Rounds: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// query asks m for table's config with a short deadline; it returns the
// partition count, or the error name of a refusal.
func query(m *rpcclient.Meta, table string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	tc, err := m.QueryConfig(ctx, table, nil)
	if err != nil {
		if name := rpcclient.ErrName(err); name != "" {
			return 0, name
		}
		return 0, err.Error()
	}
	return int(tc.PartitionCount), codec.ErrorOK
}

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func put(t *testing.T, st *metaproxy.Store, table, cluster string, sim *pegasussim.Cluster) {
	t.Helper()
	if _, err := st.Put(table, metaproxy.Record{ClusterName: cluster, MetaAddrs: sim.MetaAddr()}, metaproxy.AnyVersion); err != nil {
		t.Fatal(err)
	}
}

// metricsOf scrapes the proxy's /metrics.
func metricsOf(t *testing.T, p *metaproxy.Proxy) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	p.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	samples, _, err := promtext.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return samples
}

func gauge(t *testing.T, p *metaproxy.Proxy, name string) float64 {
	t.Helper()
	v, ok := metricsOf(t, p)[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return v
}

// counter is the value of name{labels} (0 when absent).
func counter(t *testing.T, p *metaproxy.Proxy, name, labels string) float64 {
	t.Helper()
	return metricsOf(t, p)[name+"{"+labels+"}"]
}

// newGate is a relay to the shared server that the test can cut.
func newGate(t *testing.T) *zktest.Gate {
	t.Helper()
	g, err := zktest.NewGate(zks.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}
