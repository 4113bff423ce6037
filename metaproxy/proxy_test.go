package metaproxy_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/metaproxy"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// A table moves from cluster A (4 partitions) to cluster B (8) while 32
// clients, spread over RDSN, THFT v0 and THFT v1, keep querying through the
// proxy: each sees B within 1 s of the ZooKeeper write, and never A again
// after its first B.
func TestMoveUnderLoad(t *testing.T) {
	r := root(t)
	st := newStore(t, r)
	a, b := startSim(t, map[string]int{"moving": 4}), startSim(t, map[string]int{"moving": 8})
	put(t, st, "moving", "A", a)
	p := startProxy(t, r, proxyOpts{})

	const clients = 32
	type seen struct {
		sawA         bool
		firstB       time.Time
		backToA      bool
		other        string
		queriesAfter int
	}
	results := make([]seen, clients)
	var wrote time.Time
	var wroteMu sync.Mutex
	stop := make(chan struct{})
	var sawA sync.WaitGroup
	sawA.Add(clients)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		m := client(t, p.Addr().String(), framings[i%len(framings)].opts)
		wg.Add(1)
		go func(res *seen) {
			defer wg.Done()
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				n, errName := query(m, "moving")
				now := time.Now()
				switch {
				case errName != codec.ErrorOK:
					res.other = errName
				case n == 4:
					if !res.firstB.IsZero() {
						res.backToA = true
					}
					if !res.sawA {
						res.sawA = true
						sawA.Done()
					}
				case n == 8:
					if res.firstB.IsZero() {
						res.firstB = now
					} else {
						res.queriesAfter++
					}
				}
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}(&results[i])
	}
	sawA.Wait()
	wroteMu.Lock()
	put(t, st, "moving", "B", b)
	wrote = time.Now()
	wroteMu.Unlock()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	for i, res := range results {
		switch {
		case res.other != "":
			t.Errorf("client %d (%s): error %s", i, framings[i%3].name, res.other)
		case res.firstB.IsZero():
			t.Errorf("client %d (%s): never saw cluster B", i, framings[i%3].name)
		case res.firstB.Sub(wrote) > time.Second:
			t.Errorf("client %d (%s): saw B %v after the write", i, framings[i%3].name, res.firstB.Sub(wrote))
		case res.backToA:
			t.Errorf("client %d (%s): saw A again after B", i, framings[i%3].name)
		case res.queriesAfter == 0:
			t.Errorf("client %d: no query after its first B (the check proves nothing)", i)
		}
	}
	st2 := p.Status()
	if len(st2.Moves) != 1 || st2.Moves[0].From != "A" || st2.Moves[0].To != "B" || st2.Moves[0].Table != "moving" {
		t.Errorf("moves = %+v", st2.Moves)
	}
	if len(st2.Tables) != 1 {
		t.Fatalf("tables = %+v", st2.Tables)
	}
	ts := st2.Tables[0]
	if ts.Cluster != "B" || ts.Misses != 1 || ts.Hits != ts.Queries-1 || ts.Queries < clients ||
		ts.Forwards+ts.Coalesced != ts.Queries || ts.ZKEvents != 1 || ts.ZKErrors != 0 {
		t.Errorf("table status %+v", ts)
	}
}

// The proxy's answer is the real meta's, byte for byte, on every framing,
// error answers included, and partition indices are passed through.
func TestAnswerFaithful(t *testing.T) {
	r := root(t)
	st := newStore(t, r)
	sim := startSim(t, map[string]int{"t1": 8})
	put(t, st, "t1", "A", sim)
	put(t, st, "absent_in_cluster", "A", sim) // mapped, but the cluster has no such table
	p := startProxy(t, r, proxyOpts{})
	direct := client(t, sim.MetaAddr(), rpcclient.Options{})
	for _, fr := range framings {
		via := client(t, p.Addr().String(), fr.opts)
		for _, tc := range []struct {
			table   string
			indices []int32
			errName string
		}{
			{"t1", nil, codec.ErrorOK},
			{"t1", []int32{2, 5}, codec.ErrorOK},
			{"absent_in_cluster", nil, codec.ErrorObjectNotFound},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			want, wantErr, err := direct.QueryConfigRaw(ctx, tc.table, tc.indices)
			if err != nil {
				t.Fatal(err)
			}
			got, gotErr, err := via.QueryConfigRaw(ctx, tc.table, tc.indices)
			cancel()
			if err != nil {
				t.Fatalf("%s %s: %v", fr.name, tc.table, err)
			}
			if gotErr != tc.errName || wantErr != tc.errName || !bytes.Equal(got, want) {
				t.Errorf("%s %s %v: err %s (direct %s), bodies equal %v", fr.name, tc.table, tc.indices, gotErr, wantErr, bytes.Equal(got, want))
			}
		}
	}
}

// Refusals carry the error names of pegasus-kv/meta-proxy in the
// response's err field; other RPCs get ERR_HANDLER_NOT_FOUND.
func TestRefusals(t *testing.T) {
	r := root(t)
	st := newStore(t, r)
	sim := startSim(t, map[string]int{"t1": 4, "gone": 4, "badjson": 4})
	put(t, st, "gone", "A", sim)
	zc, _, err := zk.Connect([]string{zks.Addr}, 2*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	raw := func(table, data string) {
		t.Helper()
		if _, err := zc.Create(st.Path(table), []byte(data), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	raw("badjson", `{"cluster_name": "A", "meta_addrs": `)
	raw("nometas", `{"cluster_name": "A", "meta_addrs": ""}`)
	raw("badaddr", `{"cluster_name": "A", "meta_addrs": "nohostport"}`)
	raw("deadmeta", `{"cluster_name": "A", "meta_addrs": "127.0.0.1:1"}`)
	raw("t1", "") // replaced below: the first meta is down, the second answers
	if _, err := zc.Set(st.Path("t1"), []byte(`{"cluster_name":"A","meta_addrs":"127.0.0.1:1,`+sim.MetaAddr()+`"}`), -1); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, r, proxyOpts{})
	m := client(t, p.Addr().String(), rpcclient.Options{})

	if n, e := query(m, "gone"); e != codec.ErrorOK || n != 4 {
		t.Fatalf("gone before delete: %d %s", n, e)
	}
	if err := st.Delete("gone", metaproxy.AnyVersion); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ table, want string }{
		{"t1", codec.ErrorOK},
		{"unknown", codec.ErrorObjectNotFound},
		{"not/a/table", codec.ErrorObjectNotFound},
		{"", codec.ErrorObjectNotFound},
		{"badjson", codec.ErrorInvalidData},
		{"nometas", codec.ErrorInvalidData},
		{"badaddr", codec.ErrorInvalidData},
		{"deadmeta", codec.ErrorUnknown},
	} {
		if _, got := query(m, tc.table); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.table, got, tc.want)
		}
	}
	eventually(t, 3*time.Second, "deleted node still served", func() bool {
		_, e := query(m, "gone")
		return e == codec.ErrorObjectNotFound
	})
	// A fixed node is served at once: a malformed one is not cached.
	if _, err := zc.Set(st.Path("badjson"), []byte(`{"cluster_name":"A","meta_addrs":"`+sim.MetaAddr()+`"}`), -1); err != nil {
		t.Fatal(err)
	}
	if _, e := query(m, "badjson"); e != codec.ErrorOK {
		t.Errorf("fixed node: %s", e)
	}
	conn := rpcclient.NewConn(p.Addr().String(), rpcclient.Options{})
	defer conn.Close()
	resp, err := conn.Call(context.Background(), &rpcclient.Request{RPCName: codec.RPCListApps, Body: []byte{0x0c, 0, 0, 0, 0}})
	if err != nil || resp.Err != codec.ErrorHandlerNotFound {
		t.Errorf("list_apps: %v %v", resp, err)
	}
}

// ZooKeeper stops: cached tables keep being served (stale, visible in
// /status and the metrics), uncached ones get ERR_ZOOKEEPER_OPERATION; it
// comes back: the watch is re-established and a change is seen.
func TestZooKeeperOutage(t *testing.T) {
	r := root(t)
	st := newStore(t, r)
	a, b := startSim(t, map[string]int{"t1": 4}), startSim(t, map[string]int{"t1": 8})
	put(t, st, "t1", "A", a)
	put(t, st, "other", "A", a)
	p := startProxy(t, r, proxyOpts{sessionTimeout: 10 * time.Second})
	m := client(t, p.Addr().String(), rpcclient.Options{})
	if n, e := query(m, "t1"); n != 4 {
		t.Fatalf("before: %d %s", n, e)
	}

	zks.Stop()
	restarted := false
	defer func() {
		if !restarted {
			_ = zks.Start()
		}
	}()
	eventually(t, 5*time.Second, "proxy did not notice the outage", func() bool { return !p.Status().ZKConnected })
	for i := 0; i < 5; i++ {
		if n, e := query(m, "t1"); n != 4 {
			t.Fatalf("cached table during the outage: %d %s", n, e)
		}
	}
	if _, e := query(m, "other"); e != codec.ErrorZookeeperOperation {
		t.Errorf("uncached table during the outage: %s, want %s", e, codec.ErrorZookeeperOperation)
	}
	time.Sleep(100 * time.Millisecond)
	s := p.Status()
	if s.StaleSeconds <= 0 || len(s.Tables) != 1 || !s.Tables[0].Stale {
		t.Errorf("status during the outage: %+v", s)
	}
	if v := gauge(t, p, "dupbridge_metaproxy_zk_connected"); v != 0 {
		t.Errorf("zk_connected = %v during the outage", v)
	}
	if v := gauge(t, p, "dupbridge_metaproxy_stale_tables"); v != 1 {
		t.Errorf("stale_tables = %v during the outage", v)
	}

	if err := zks.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	eventually(t, 10*time.Second, "proxy did not reconnect", func() bool { return p.Status().ZKConnected })
	put(t, st, "t1", "B", b)
	eventually(t, 5*time.Second, "change after the outage not seen (watch not re-established)", func() bool {
		n, _ := query(m, "t1")
		return n == 8
	})
	if s := p.Status(); s.StaleSeconds != 0 || s.Tables[0].Stale {
		t.Errorf("status after the outage: %+v", s)
	}
}

// The session expires while the proxy is cut off from a running ZooKeeper:
// the proxy keeps serving the cached table, and once through again it gets
// a new session, re-arms the lost watch and sees the change made meanwhile.
func TestSessionExpiry(t *testing.T) {
	r := root(t)
	st := newStore(t, r)
	a, b := startSim(t, map[string]int{"t1": 4}), startSim(t, map[string]int{"t1": 8})
	put(t, st, "t1", "A", a)
	gate := newGate(t)
	p := startProxy(t, r, proxyOpts{zk: gate.Addr, sessionTimeout: 800 * time.Millisecond})
	m := client(t, p.Addr().String(), rpcclient.Options{})
	if n, e := query(m, "t1"); n != 4 {
		t.Fatalf("before: %d %s", n, e)
	}
	gate.Cut()
	put(t, st, "t1", "B", b)
	time.Sleep(2 * time.Second) // > the session timeout: the server expires the session
	if n, e := query(m, "t1"); n != 4 {
		t.Fatalf("cut off: %d %s, want the cached A", n, e)
	}
	gate.Open()
	eventually(t, 10*time.Second, "change not seen after the session expired", func() bool {
		n, _ := query(m, "t1")
		return n == 8
	})
	if v := counter(t, p, "dupbridge_metaproxy_zk_events_total", `event="StateExpired"`); v < 1 {
		t.Errorf("StateExpired events = %v", v)
	}
	if v := counter(t, p, "dupbridge_metaproxy_zk_events_total", `event="EventNotWatching"`); v < 1 {
		t.Errorf("EventNotWatching events = %v", v)
	}
}

// A proxy started while ZooKeeper is unreachable answers
// ERR_ZOOKEEPER_OPERATION, then serves as soon as it is reachable.
func TestStartWhileZooKeeperDown(t *testing.T) {
	r := root(t)
	st := newStore(t, r)
	sim := startSim(t, map[string]int{"t1": 4})
	put(t, st, "t1", "A", sim)
	gate := newGate(t)
	gate.Cut()
	p := startProxy(t, r, proxyOpts{zk: gate.Addr})
	m := client(t, p.Addr().String(), rpcclient.Options{})
	if _, e := query(m, "t1"); e != codec.ErrorZookeeperOperation {
		t.Errorf("ZooKeeper down: %s, want %s", e, codec.ErrorZookeeperOperation)
	}
	if p.Status().ZKConnected {
		t.Error("status says connected")
	}
	gate.Open()
	eventually(t, 10*time.Second, "not served after ZooKeeper came up", func() bool {
		n, _ := query(m, "t1")
		return n == 4
	})
}

// Identical queries in flight share one query to the meta: 10 clients ask
// while the meta takes 300 ms to answer; each gets the meta's answer, and
// the meta saw one query.
func TestQueriesCoalesced(t *testing.T) {
	r := root(t)
	st := newStore(t, r)
	sim := startSim(t, map[string]int{"t1": 4})
	put(t, st, "t1", "A", sim)
	p := startProxy(t, r, proxyOpts{})
	m := client(t, p.Addr().String(), rpcclient.Options{})
	if n, e := query(m, "t1"); n != 4 { // cached from here on
		t.Fatalf("%d %s", n, e)
	}
	forwards := counter(t, p, "dupbridge_metaproxy_forwards_total", `table="t1"`)
	sim.SetDelay(codec.RPCQueryPartitionConfigByIndex, 300*time.Millisecond)
	var wg sync.WaitGroup
	counts := make([]int, 10)
	for i := range counts {
		c := client(t, p.Addr().String(), framings[i%3].opts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], _ = query(c, "t1")
		}()
	}
	wg.Wait()
	for i, n := range counts {
		if n != 4 {
			t.Errorf("client %d: partition count %d", i, n)
		}
	}
	f := counter(t, p, "dupbridge_metaproxy_forwards_total", `table="t1"`) - forwards
	c := counter(t, p, "dupbridge_metaproxy_coalesced_total", `table="t1"`)
	if f+c != 10 || f > 2 {
		t.Errorf("forwarded %v, coalesced %v of 10 queries", f, c)
	}
}
