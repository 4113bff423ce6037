package integration

import (
	"context"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/integration/harness"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/walwriter"
)

func startWAN(t testing.TB, o harness.WANOptions) *harness.WAN {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if o.Link.StateDir == "" {
		o.Link.StateDir = t.TempDir()
	}
	w, err := harness.StartWAN(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// drained waits until the edge's spool holds nothing unacknowledged: every
// spooled write is applied on the follower.
func drained(t testing.TB, w *harness.WAN) {
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
			w := startWAN(t, harness.WANOptions{Options: harness.Options{FollowerPartitions: 32, Strict: true},
				Link: harness.LinkOptions{Ack: ack}})
			sum := replayAll(t, w.Env, paths, replay.Options{})
			if sum.Mutations == 0 {
				t.Fatalf("replay shipped nothing: %+v", sum)
			}
			drained(t, w)
			want := check(t, w.Env, parts)
			t.Logf("ack=%s: %d mutations, %d keys verified", ack, sum.Mutations, len(want.Keys))
		})
	}
}
