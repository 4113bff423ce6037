package follower

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/internal/promtext"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/server"
)

// TestEndToEnd runs a master's view of the bridge against the simulated
// follower: the bridge advertises 8 partitions, the follower has 16, and a
// second table is created on the follower at start. Every duplicated write
// must land in the follower partition its own key hash names.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := pegasussim.Start(ctx, pegasussim.Options{
		Tables:    []pegasussim.TableSpec{{Name: "temp", Partitions: 16}},
		Strict:    true, // misrouted keys are rejected, not stored
		ClusterID: 4,
		DupGroup:  map[string]uint8{"A": 1, "F": 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	text := fmt.Sprintf(`[pegasus.clusters]
  F = %s
[duplication-group]
  A = 1
  B = 2
[dupbridge]
  listen = 127.0.0.1:0
  advertised_address = 127.0.0.1:34801
  cluster_name = B
  shutdown_timeout = 5s
  event_loops = 2
[table.temp]
  follower_cluster = F
  advertised_partition_count = 8
  master_cluster = A
[table.made]
  follower_cluster = F
  follower_table = made_f
  follower_partition_count = 4
`, sim.MetaAddr())
	fs, srv := startBridge(t, text, map[string]int{"temp": 16, "made": 4})

	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const requests, perRequest = 10, 30
	want := map[string]string{}
	wantTS := map[string]int64{}
	var out []byte
	for r := 0; r < requests; r++ {
		var w mutation.DupRequestWriter
		w.Begin(nil, 0)
		for i := 0; i < perRequest; i++ {
			hk := fmt.Sprintf("user%d", (r*perRequest+i)%97)
			val := fmt.Sprintf("v%d", r*perRequest+i)
			raw := mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte(hk), []byte("s")), []byte(val), 0)
			e := mutation.DupEntry{Timestamp: int64(1_700_000_000_000_000 + r*perRequest + i), TaskCode: []byte(codec.RPCPut),
				RawMessage: raw, ClusterID: 1, HasClusterID: true}
			w.AppendEntry(&e)
			want[hk] = val
			wantTS[hk] = e.Timestamp
		}
		h := codec.RequestHeader{ID: uint64(r + 1), RPCName: codec.RPCDuplicate, AppID: 1, PartitionIndex: int32(r % 8),
			TimeoutMs: 10000, Context: codec.ContextCppRequest}
		out = codec.AppendRequest(out, codec.FramingRDSN, &h, w.Finish())
	}
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	dec := codec.Decoder{Role: codec.RoleClient, Framing: codec.FramingRDSN}
	var buf []byte
	tmp := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for got := 0; got < requests; {
		f, n, err := dec.Decode(buf)
		if errors.Is(err, codec.ErrNeedMore) {
			m, err := conn.Read(tmp)
			if err != nil {
				t.Fatalf("read after %d replies: %v", got, err)
			}
			buf = append(buf, tmp[:m]...)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		r, err := mutation.ParseDupResponse(f.Body)
		if err != nil || string(f.ErrorName) != codec.ErrorOK || r.Error != 0 {
			t.Fatalf("reply %d: %q %+v %v", f.ID, f.ErrorName, r, err)
		}
		buf = buf[n:]
		got++
	}

	recs, err := sim.Dump("temp")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(want) {
		t.Fatalf("follower holds %d records, want %d", len(recs), len(want))
	}
	for _, rec := range recs {
		if want[string(rec.HashKey)] != string(rec.Value) || rec.Misplaced {
			t.Errorf("record %s = %q (misplaced %v), want %q", rec.HashKey, rec.Value, rec.Misplaced, want[string(rec.HashKey)])
		}
		// Last-write-wins keeps working: the master's timestamp and
		// cluster id travel unchanged into the timetag (duplication.md §4.3).
		if tt := mutation.Timetag(uint64(wantTS[string(rec.HashKey)]), 1, false); rec.Timetag != tt {
			t.Errorf("record %s timetag %#x, want %#x", rec.HashKey, rec.Timetag, tt)
		}
	}
	if bad, _ := sim.Misplaced("temp"); len(bad) != 0 {
		t.Errorf("misrouted keys: %+v", bad)
	}
	st := srv.Stats()
	if st.DupAcked != requests || st.DupEntries != requests*perRequest || st.InflightBytes != 0 {
		t.Errorf("stats: %+v", st)
	}
	checkMetrics(t, srv, fs, requests*perRequest)
}

// startBridge runs a bridge on the configuration text, wired as `dupbridge
// serve` wires it (Set.Wire), until the test ends, and waits until each
// table of open has opened its follower table with that many partitions.
// At the end the Set closes first, so that parts still in flight fail and
// the server's drain ends at once.
func startBridge(t *testing.T, text string, open map[string]int) (*Set, *server.Server) {
	t.Helper()
	cfg, err := config.Parse([]byte(text), "test.ini")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Bridge.StateDir = t.TempDir() // never the system's /var/lib/dupbridge
	fs, err := New(cfg, Options{RetryMin: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fs.Open(ctx)
	so := server.Options{Config: cfg, Listen: "127.0.0.1:0", HTTPListen: "-"}
	fs.Wire(&so)
	srv, err := server.New(so)
	if err != nil {
		cancel()
		_ = fs.Close()
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- srv.Run(ctx) }()
	<-srv.Ready()
	t.Cleanup(func() {
		cancel()
		_ = fs.Close()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for table, n := range open {
		for fs.PartitionCount(table) != n {
			if time.Now().After(deadline) {
				t.Fatalf("follower table of %s not open: %d partitions, want %d", table, fs.PartitionCount(table), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return fs, srv
}

// checkMetrics scrapes the server's /metrics (with the Set's collector
// registered) after the end-to-end run: both sides' Pegasus metrics agree
// with the router statistics, and every table label is the configured name.
func checkMetrics(t *testing.T, srv *server.Server, fs *Set, entries int) {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	got, help, err := promtext.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	routerSeries := map[string]int{} // table label → dupbridge_router_* series
	for series := range got {
		if strings.HasPrefix(series, "dupbridge_router_") {
			_, rest, _ := strings.Cut(series, `table="`)
			tn, _, _ := strings.Cut(rest, `"`)
			routerSeries[tn]++
		}
	}
	var rpcs, retries, bytes, shippedEntries uint64
	rs := fs.Stats()["temp"]
	for _, p := range rs.Partitions {
		rpcs += p.RPCs
		retries += p.Retries
		bytes += p.ShippedBytes
		shippedEntries += p.ShippedEntries
	}
	if rpcs == 0 || bytes == 0 || shippedEntries != uint64(entries) {
		t.Fatalf("router stats: rpcs %d bytes %d entries %d", rpcs, bytes, shippedEntries)
	}
	tests := []struct {
		series string
		want   float64
	}{
		{`dup_requests{table="temp"}`, float64(entries)},
		{`dup_time_lag_ms_count{table="temp"}`, float64(entries)},
		{`dup_shipped_successful_requests{table="temp"}`, float64(rpcs)},
		{`dup_shipped_failed_requests{table="temp"}`, float64(retries)},
		{`dup_shipped_bytes{table="temp"}`, float64(bytes)},
		{`dup_shipped_successful_requests{table="made"}`, 0},
		{`dup_shipped_bytes{table="made"}`, 0},
		{`dupbridge_router_partitions{table="temp"}`, 16},
		{`dupbridge_router_partitions{table="made"}`, 4},
	}
	for _, tc := range tests {
		if g, ok := got[tc.series]; !ok || g != tc.want {
			t.Errorf("%s = %v (present %v), want %v", tc.series, g, ok, tc.want)
		}
	}
	for _, name := range []string{"dup_shipped_successful_requests", "dup_shipped_failed_requests", "dup_shipped_bytes"} {
		if !strings.Contains(help[name], "mirrors the Pegasus master metric "+name) {
			t.Errorf("HELP %s = %q", name, help[name])
		}
	}
	if routerSeries["made_f"] != 0 || routerSeries["made"] == 0 || routerSeries["temp"] == 0 {
		t.Errorf("router series by table label: %v (want configured names, not made_f)", routerSeries)
	}
}

// EnsureTable creates the follower table with the count it is given and
// no envs: a master's duplication.master_* envs never reach the follower,
// whose replicas would otherwise copy the master's checkpoint themselves
// (duplication.md §2.1).
func TestEnsureTableCreatesWithoutEnvs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := pegasussim.Start(ctx, pegasussim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg, err := config.Parse(fmt.Appendf(nil, "[pegasus.clusters]\n  F = %s\n[duplication-group]\n  A = 1\n[dupbridge]\n  listen = 127.0.0.1:1\n[table.fresh]\n  follower_cluster = F\n", sim.MetaAddr()), "t.ini")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	n, err := fs.EnsureTable(ctx, &cfg.Tables[0], 32)
	if err != nil || n != 32 {
		t.Fatalf("EnsureTable: %d, %v", n, err)
	}
	found := false
	for _, ti := range sim.Tables() {
		if ti.Name != "fresh" {
			continue
		}
		found = true
		if len(ti.Envs) != 0 || len(ti.Partitions) != 32 {
			t.Fatalf("follower table: %d partitions, envs %v", len(ti.Partitions), ti.Envs)
		}
	}
	if !found {
		t.Fatal("follower table not created")
	}
}
