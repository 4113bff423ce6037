package localcluster

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHTTPSurvivesRestart: with Options.HTTP the bridge's interface is on
// one address for the whole run, serving whichever bridge is running, and
// the bridge is wired as serve wires it (the follower side's metrics too).
func TestHTTPSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := Start(ctx, Options{Table: "t", FollowerPartitions: 4, HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get("http://" + env.HTTPAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return string(b)
	}
	for round, bridge := range []string{"first", "restarted"} {
		if round > 0 {
			if err := env.RestartBridge(ctx); err != nil {
				t.Fatal(err)
			}
		}
		m := get("/metrics")
		for _, want := range []string{`dup_requests{table="t"} 0`, `dup_shipped_successful_requests{table="t"} 0`, `dupbridge_router_partitions{table="t"} 4`} {
			if !strings.Contains(m, want) {
				t.Errorf("%s bridge: /metrics lacks %s", bridge, want)
			}
		}
		// A connection to the first bridge counts there only: the restarted
		// bridge's counters start again from 0.
		want := `dupbridge_connections_opened_total 0`
		if round == 0 {
			c, err := net.Dial("tcp", env.BridgeAddr)
			if err != nil {
				t.Fatal(err)
			}
			want = `dupbridge_connections_opened_total 1`
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(get("/metrics"), want) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			c.Close()
		}
		if s := get("/metrics"); !strings.Contains(s, want) {
			t.Errorf("%s bridge: /metrics is not the running bridge's, want %s", bridge, want)
		}
	}
}
