package metaproxy_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/ctlclient"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/metaproxy"
	"github.com/dupbridge/dupbridge/rpcclient"
)

const sinkToken = "sink-admin-token-0123456789abcdef"

// newWANSwitchEnv is newSwitchEnv over the WAN link: masters write to an
// edge, a sink (admin HTTP with admin_token) applies to the simulated
// follower B. se.admin and se.cl are the sink's; the edge's admin HTTP is
// returned.
func newWANSwitchEnv(t *testing.T) (*switchEnv, string) {
	t.Helper()
	ctx := context.Background()
	w, err := localcluster.StartWAN(ctx, localcluster.WANOptions{
		Options: localcluster.Options{Table: "sw", FollowerPartitions: 4},
		Link:    localcluster.LinkOptions{StateDir: t.TempDir(), SinkExtra: "http_listen = 127.0.0.1:0\nadmin_token = " + sinkToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	edgeHTTP := httptest.NewServer(w.Edge.Server.HTTPHandler())
	t.Cleanup(edgeHTTP.Close)
	old := startSim(t, map[string]int{"sw": 4})
	se := &switchEnv{env: w.Env, admin: w.Sink.HTTPAddr().String(), st: newStore(t, root(t)),
		a: metaproxy.Record{ClusterName: "A", MetaAddrs: old.MetaAddr()},
		b: metaproxy.Record{ClusterName: "B", MetaAddrs: w.Sim.MetaAddr()}}
	if _, err := se.st.Put("sw", se.a, metaproxy.AnyVersion); err != nil {
		t.Fatal(err)
	}
	cfg, err := client(t, w.BridgeAddr, rpcclient.Options{}).QueryConfig(ctx, "sw", nil)
	if err != nil {
		t.Fatal(err)
	}
	se.appID = cfg.AppID
	if se.cl, err = ctlclient.New(se.admin, ctlclient.Options{Token: sinkToken, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	se.conn = rpcclient.NewConn(w.BridgeAddr, rpcclient.Options{})
	t.Cleanup(func() { se.conn.Close() })
	return se, edgeHTTP.URL
}

// proxy switch against an edge+sink pair: the sink reports the follower's
// lag, refuses table controls (the edge's) behind its admin_token, and a
// switch is refused while the follower lags and succeeds once --wait sees
// it drain, with the pause taken by the edge (--edge).
func TestSwitchWANEdgeSink(t *testing.T) {
	se, edgeAdmin := newWANSwitchEnv(t)
	ctx := context.Background()
	edge, err := ctlclient.New(edgeAdmin, ctlclient.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + se.admin + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("sink GET %s: %v %v", path, resp, err)
		}
		_ = resp.Body.Close()
	}
	var ce *ctlclient.Error
	if err := metaproxy.PauseTable(ctx, se.cl, "sw"); !errors.As(err, &ce) || ce.Status != http.StatusConflict || !strings.Contains(err.Error(), "edge") {
		t.Fatalf("pause on the sink: %v, want 409 naming the edge", err)
	}
	anon, _ := ctlclient.New(se.admin, ctlclient.Options{Timeout: 5 * time.Second})
	if err := metaproxy.PauseTable(ctx, anon, "sw"); !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized {
		t.Fatalf("pause on the sink without its admin_token: %v, want 401", err)
	}

	// Without --edge: a pause cannot be taken by the sink; a switch says
	// what the sink alone cannot see.
	var out strings.Builder
	_, err = metaproxy.Switch(ctx, se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b, Bridge: se.admin, Client: se.cl,
		Pause: true, Wait: time.Second, Out: &out})
	if !errors.As(err, &ce) || ce.Status != http.StatusConflict || se.mapping(t) != "A" {
		t.Fatalf("--pause against a sink without --edge: %v, mapping %s", err, se.mapping(t))
	}
	if _, err := metaproxy.Switch(ctx, se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b, Bridge: se.admin, Client: se.cl,
		Out: &out}); err != nil || !strings.Contains(out.String(), "WAN sink, which cannot see what its edge still spools") {
		t.Fatalf("switch against a sink without --edge: %v\n%s", err, out.String())
	}
	if _, err := se.st.Put("sw", se.a, metaproxy.AnyVersion); err != nil {
		t.Fatal(err)
	}

	acked := se.lagging(t, 1500*time.Millisecond, 10*time.Second, 3) // held by the follower behind the sink
	out.Reset()
	_, err = metaproxy.Switch(ctx, se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b, Bridge: se.admin, Client: se.cl,
		Edge: edgeAdmin, MaxLag: time.Second, Out: &out})
	if !errors.Is(err, metaproxy.ErrLagTooHigh) || se.mapping(t) != "A" {
		t.Fatalf("switch while the follower lags: %v, mapping %s\n%s", err, se.mapping(t), out.String())
	}
	<-acked // ack = spool: the master heard OK at the edge's fsync

	out.Reset()
	res, err := metaproxy.Switch(ctx, se.st, metaproxy.SwitchOptions{Table: "sw", To: se.b, Bridge: se.admin, Client: se.cl,
		Edge: edgeAdmin, MaxLag: time.Second, Wait: 10 * time.Second, Poll: 50 * time.Millisecond, Pause: true, Out: &out})
	if err != nil || res.Forced || res.Lag.Pending() != 0 || res.Lag.LastAcked.IsZero() || se.mapping(t) != "B" {
		t.Fatalf("switch with --wait: %+v, %v, mapping %s\n%s", res, err, se.mapping(t), out.String())
	}
	if !strings.Contains(out.String(), "paused sw on the edge") {
		t.Errorf("the pause did not go to the edge:\n%s", out.String())
	}
	if l, err := metaproxy.BridgeLag(ctx, edge, "sw"); err != nil || !l.Paused {
		t.Errorf("edge after the switch: %+v, %v; want paused", l, err)
	}
	if l, err := metaproxy.BridgeLag(ctx, se.cl, "sw"); err != nil || l.Role != "sink" || l.Inflight != 0 {
		t.Errorf("sink after the switch: %+v, %v", l, err)
	}
}
