package metaproxy_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/metaproxy"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// switchEnv is a bridge duplicating table "sw" into a simulated follower
// (cluster B), the bridge's admin HTTP, and the table mapped to cluster A.
type switchEnv struct {
	env   *localcluster.Env
	admin string
	st    *metaproxy.Store
	a, b  metaproxy.Record
	conn  *rpcclient.Conn
	appID int32
}

func newSwitchEnv(t *testing.T) *switchEnv {
	t.Helper()
	ctx := context.Background()
	env, err := localcluster.Start(ctx, localcluster.Options{Table: "sw", FollowerPartitions: 4, HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	old := startSim(t, map[string]int{"sw": 4}) // cluster A, the current one
	se := &switchEnv{env: env, admin: env.HTTPAddr, st: newStore(t, root(t)),
		a: metaproxy.Record{ClusterName: "A", MetaAddrs: old.MetaAddr()},
		b: metaproxy.Record{ClusterName: "B", MetaAddrs: env.Sim.MetaAddr()}}
	if _, err := se.st.Put("sw", se.a, metaproxy.AnyVersion); err != nil {
		t.Fatal(err)
	}
	meta := client(t, env.BridgeAddr, rpcclient.Options{})
	cfg, err := meta.QueryConfig(ctx, "sw", nil)
	if err != nil {
		t.Fatal(err)
	}
	se.appID = cfg.AppID
	se.conn = rpcclient.NewConn(env.BridgeAddr, rpcclient.Options{})
	t.Cleanup(func() { se.conn.Close() })
	return se
}

// lagging makes the follower answer duplicates after d and sends one
// master request of n entries written age ago; it returns when the bridge
// holds them in flight, and a channel closed when the master got its ack.
func (se *switchEnv) lagging(t *testing.T, d, age time.Duration, n int) <-chan struct{} {
	t.Helper()
	se.env.Sim.SetDelay(codec.RPCDuplicate, d)
	var w mutation.DupRequestWriter
	w.Begin(nil, 0)
	ts := time.Now().Add(-age).UnixMicro()
	for i := 0; i < n; i++ {
		raw := mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte{'h', byte(i)}, []byte("s")), []byte("v"), 0)
		w.AppendEntry(&mutation.DupEntry{Timestamp: ts + int64(i), TaskCode: []byte(codec.RPCPut), RawMessage: raw,
			ClusterID: localcluster.MasterClusterID, HasClusterID: true})
	}
	body := w.Finish()
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		resp, err := se.conn.Call(context.Background(), &rpcclient.Request{RPCName: codec.RPCDuplicate, AppID: se.appID,
			Body: body, ForwardSupported: true, Timeout: 30 * time.Second})
		if err != nil || !resp.OK() {
			t.Errorf("duplicate: %v %v", resp, err)
		}
	}()
	eventually(t, 5*time.Second, "entries never in flight on the bridge", func() bool {
		l, err := metaproxy.BridgeLag(context.Background(), httpClient, se.admin, "sw")
		return err == nil && l.Inflight == int64(n)
	})
	return acked
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func (se *switchEnv) mapping(t *testing.T) string {
	t.Helper()
	r, _, err := se.st.Get("sw")
	if err != nil {
		t.Fatal(err)
	}
	return r.ClusterName
}

func TestSwitchRefusedWhenLagging(t *testing.T) {
	se := newSwitchEnv(t)
	acked := se.lagging(t, 2*time.Second, 10*time.Second, 3)
	var out strings.Builder
	_, err := metaproxy.Switch(context.Background(), se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b,
		Bridge: se.admin, MaxLag: time.Second, Out: &out})
	if !errors.Is(err, metaproxy.ErrLagTooHigh) {
		t.Fatalf("err = %v, want ErrLagTooHigh\n%s", err, out.String())
	}
	if !strings.Contains(err.Error(), "3 entries not applied") {
		t.Errorf("refusal does not say what is pending: %v", err)
	}
	if got := se.mapping(t); got != "A" {
		t.Errorf("mapping after a refused switch: %s", got)
	}
	<-acked
}

func TestSwitchWaitsForDrain(t *testing.T) {
	se := newSwitchEnv(t)
	acked := se.lagging(t, 1500*time.Millisecond, 10*time.Second, 2)
	var out strings.Builder
	start := time.Now()
	res, err := metaproxy.Switch(context.Background(), se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b,
		Bridge: se.admin, MaxLag: time.Second, Wait: 10 * time.Second, Poll: 50 * time.Millisecond, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	select {
	case <-acked:
	default:
		t.Errorf("switched after %v, before the bridge acknowledged the pending entries", time.Since(start))
	}
	if res.Forced || res.Behind > time.Second || res.Lag.Pending() != 0 || se.mapping(t) != "B" {
		t.Errorf("result %+v, mapping %s\n%s", res, se.mapping(t), out.String())
	}
	if !strings.Contains(out.String(), "waiting:") {
		t.Errorf("no waiting line:\n%s", out.String())
	}
}

func TestSwitchPauseThenWait(t *testing.T) {
	se := newSwitchEnv(t)
	acked := se.lagging(t, time.Second, 10*time.Second, 1)
	var out strings.Builder
	_, err := metaproxy.Switch(context.Background(), se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b,
		Bridge: se.admin, MaxLag: time.Second, Wait: 10 * time.Second, Poll: 50 * time.Millisecond, Pause: true, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	<-acked
	l, err := metaproxy.BridgeLag(context.Background(), httpClient, se.admin, "sw")
	if err != nil || !l.Paused || se.mapping(t) != "B" {
		t.Errorf("after a paused switch: lag %+v (%v), mapping %s", l, err, se.mapping(t))
	}
}

func TestSwitchForceReportsLoss(t *testing.T) {
	se := newSwitchEnv(t)
	acked := se.lagging(t, 2*time.Second, 10*time.Second, 4)
	var out strings.Builder
	res, err := metaproxy.Switch(context.Background(), se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b,
		Bridge: se.admin, MaxLag: time.Second, Force: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing was acknowledged yet: the window is unbounded, 4 entries pending.
	if !res.Forced || !strings.Contains(res.Loss, "4 entries not yet applied to B") || se.mapping(t) != "B" ||
		!strings.Contains(out.String(), "FORCED") {
		t.Errorf("result %+v\n%s", res, out.String())
	}
	<-acked
	// Acknowledged up to 10 s ago, one more pending: a bounded window.
	if _, err := se.st.Put("sw", se.a, metaproxy.AnyVersion); err != nil {
		t.Fatal(err)
	}
	acked = se.lagging(t, 2*time.Second, 5*time.Second, 1)
	res, err = metaproxy.Switch(context.Background(), se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b,
		Bridge: se.admin, MaxLag: time.Second, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Forced || res.Behind < 9*time.Second || res.Behind > time.Minute || !strings.Contains(res.Loss, "writes to A since") ||
		!strings.Contains(res.Loss, "1 entries not yet applied") {
		t.Errorf("result %+v", res)
	}
	<-acked
}

func TestSwitchWithoutBridge(t *testing.T) {
	se := newSwitchEnv(t)
	_, err := metaproxy.Switch(context.Background(), se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b, Bridge: "127.0.0.1:1"})
	if !errors.Is(err, metaproxy.ErrNoBridge) || se.mapping(t) != "A" {
		t.Fatalf("err = %v, mapping %s", err, se.mapping(t))
	}
	// A bridge that does not duplicate the table is no bridge either.
	_, err = metaproxy.Switch(context.Background(), se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b, Bridge: se.admin,
		LagOf: func(ctx context.Context) (metaproxy.Lag, error) {
			return metaproxy.BridgeLag(ctx, httpClient, se.admin, "not_there")
		}})
	if !errors.Is(err, metaproxy.ErrNoBridge) {
		t.Fatalf("err = %v", err)
	}
	res, err := metaproxy.Switch(context.Background(), se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b, Bridge: "127.0.0.1:1", Force: true})
	if err != nil || !res.Forced || !strings.Contains(res.Loss, "no bridge answered") || se.mapping(t) != "B" {
		t.Fatalf("forced without bridge: %+v %v", res, err)
	}
}

// Two switches race on the table (both read the same version, both find
// the lag fine): exactly one wins, the other gets ErrConflict, and the node
// holds the winner's target.
func TestSwitchRace(t *testing.T) {
	se := newSwitchEnv(t)
	c := metaproxy.Record{ClusterName: "C", MetaAddrs: "127.0.0.1:2"}
	var arrived sync.WaitGroup
	arrived.Add(2)
	barrier := func(ctx context.Context) (metaproxy.Lag, error) {
		arrived.Done()
		arrived.Wait() // both have read the node before either writes
		return metaproxy.BridgeLag(ctx, httpClient, se.admin, "sw")
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, to := range []metaproxy.Record{se.b, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = metaproxy.Switch(context.Background(), se.st, metaproxy.SwitchOptions{Table: "sw", To: to,
				Bridge: se.admin, LagOf: barrier})
		}()
	}
	wg.Wait()
	winners := 0
	for _, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, metaproxy.ErrConflict):
			t.Errorf("loser's error: %v", err)
		}
	}
	got := se.mapping(t)
	if winners != 1 || (errs[0] == nil && got != "B") || (errs[1] == nil && got != "C") {
		t.Errorf("winners %d, errors %v, mapping %s", winners, errs, got)
	}
}
