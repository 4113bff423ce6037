package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/internal/tcpproxy"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/walwriter"
)

func startWAN(t testing.TB, o localcluster.WANOptions) *localcluster.WAN {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if o.Link.StateDir == "" {
		o.Link.StateDir = t.TempDir()
	}
	w, err := localcluster.StartWAN(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// drained waits until the edge's spool holds nothing unacknowledged: every
// spooled write is applied on the follower.
func drained(t testing.TB, w *localcluster.WAN) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st := w.Edge.Edge.Stats()[w.Link.Table]
		if st.Acked == st.Durable && st.SpoolBytes == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge spool not drained: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Plogs of 8 master partitions replayed into an edge, shipped to a sink and
// routed into a 32-partition follower; every key is then read back through
// the follower's own routing. Both acknowledgement policies.
func TestWANEndToEnd(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	paths, parts := generate(t, walwriter.GenOptions{
		AppID: 5, Partitions: 8, Mutations: n, Seed: 7, FinalEmpty: true,
		HashKeys: 20_000, SortKeys: 4, ValueMin: 16, ValueMax: 512,
	})
	for _, ack := range []string{"spool", "follower"} {
		t.Run("ack="+ack, func(t *testing.T) {
			sinkHTTP := freeAddr(t)
			w := startWAN(t, localcluster.WANOptions{Options: localcluster.Options{FollowerPartitions: 32, Strict: true},
				Link: localcluster.LinkOptions{Ack: ack, EdgeExtra: "relay_linger = 0s", SinkExtra: "http_listen = " + sinkHTTP}})
			sum := replayAll(t, w.Env, paths, replay.Options{})
			if sum.Mutations == 0 {
				t.Fatalf("replay shipped nothing: %+v", sum)
			}
			drained(t, w)
			want := check(t, w.Env, parts)
			sinkStatus(t, sinkHTTP, w.Link.Table, w.Edge.Edge.Stats()[w.Link.Table].Acked)
			t.Logf("ack=%s: %d mutations, %d keys verified", ack, sum.Mutations, len(want.Keys))
		})
	}
}

// The link between edge and sink is cut during a replay (3 s by default,
// DUPBRIDGE_WAN_CUT=30s for the figure) and restored: the master
// keeps being answered from the spool, and afterwards the follower holds
// every key.
func TestWANLinkCut(t *testing.T) {
	cut := 3 * time.Second
	if v := os.Getenv("DUPBRIDGE_WAN_CUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("DUPBRIDGE_WAN_CUT=%q: %v", v, err)
		}
		cut = d
	}
	paths, parts := generate(t, walwriter.GenOptions{
		AppID: 7, Partitions: 8, Mutations: 60_000, Seed: 11, FinalEmpty: true,
		HashKeys: 10_000, SortKeys: 4, ValueMin: 16, ValueMax: 256,
	})
	sinkAddr := freeAddr(t)
	px, err := tcpproxy.New(sinkAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	w := startWAN(t, localcluster.WANOptions{Options: localcluster.Options{FollowerPartitions: 16, Strict: true},
		Link: localcluster.LinkOptions{SinkAddr: sinkAddr, RelaySink: px.Addr()}})
	var acked atomic.Int64
	done := make(chan error, 1)
	go func() {
		_, err := w.Replay(context.Background(), paths, replay.Options{ProgressInterval: 5 * time.Millisecond,
			OnProgress: func(p replay.Progress) { acked.Store(p.Mutations) }})
		done <- err
	}()
	for acked.Load() < 10_000 {
		time.Sleep(time.Millisecond)
	}
	px.Cut()
	before := acked.Load()
	time.Sleep(cut)
	during := acked.Load() - before
	st := w.Edge.Edge.Stats()[w.Link.Table]
	px.Restore()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if during == 0 || st.Connected {
		t.Fatalf("during the cut: %d mutations acknowledged from the spool, link connected %v", during, st.Connected)
	}
	drained(t, w)
	check(t, w.Env, parts)
	t.Logf("%d mutations acknowledged by the edge during a %v cut; spool then held %d bytes", during, cut, st.SpoolBytes)
}

// sinkStatus checks the sink's /status (applied = what the edge saw
// acknowledged) and that /metrics serves its counters.
func sinkStatus(t *testing.T, addr, table string, acked uint64) {
	t.Helper()
	var st struct {
		Link map[string]struct {
			Applied uint64 `json:"applied_lsn"`
		} `json:"link"`
	}
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Link[table].Applied != acked {
		t.Fatalf("sink /status: %+v (%v), edge acked %d", st, err, acked)
	}
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "dupbridge_relay_sink_records_total") || !strings.Contains(string(body), "dup_shipped_successful_requests") {
		t.Fatalf("sink /metrics lacks the relay and router metrics:\n%.2000s", body)
	}
}
