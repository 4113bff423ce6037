package integration

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/walwriter"
)

// A long replay through the bridge while the follower and the bridge
// misbehave, one fault after another: follower connections dropped, a
// primary moved, RPC-level and duplicate_response errors, a partition
// unavailable for seconds, and the bridge restarted. The replay must
// finish, and the follower must then hold exactly what the logs imply
// (nothing acknowledged lost, per-key order kept), every key in place.
func TestFaultsDuringLongReplay(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	paths, parts := generate(t, walwriter.GenOptions{
		AppID: 4, Partitions: 8, Mutations: n, Seed: 99, FinalEmpty: true,
		HashKeys: 50_000, SortKeys: 8, ValueMin: 8, ValueMax: 128,
	})
	env := start(t, localcluster.Options{FollowerPartitions: 32, Strict: true})
	table := env.Opts.Table

	var acked atomic.Int64
	total := int64(n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type result struct {
		sum replay.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := env.Replay(ctx, paths, replay.Options{
			ProgressInterval: 20 * time.Millisecond,
			OnProgress:       func(p replay.Progress) { acked.Store(p.Mutations) },
		})
		done <- result{sum, err}
	}()
	// at waits until the replay has acknowledged the given share of the
	// mutations (or has finished, which fails the test: a fault must strike
	// while writes are still flowing).
	at := func(share float64, what string) {
		t.Helper()
		for acked.Load() < int64(share*float64(total)) {
			select {
			case r := <-done:
				t.Fatalf("replay finished (%v) before %s", r.err, what)
			case <-time.After(5 * time.Millisecond):
			}
		}
		t.Logf("%5.1f%% acknowledged: %s", 100*float64(acked.Load())/float64(total), what)
	}

	at(0.08, "drop every follower connection")
	if _, err := env.Sim.CloseConnections(""); err != nil {
		t.Fatal(err)
	}
	at(0.16, "move the primary of partitions 3 and 17")
	for _, p := range []int{3, 17} {
		if _, err := env.Sim.MovePrimary(table, p, (p+1)%len(env.Sim.ReplicaAddrs())); err != nil {
			t.Fatal(err)
		}
	}
	at(0.24, "RPC-level ERR_BUSY for the next 40 duplicate calls")
	if err := env.Sim.InjectError(codec.RPCDuplicate, codec.ErrorBusy, 40); err != nil {
		t.Fatal(err)
	}
	at(0.32, "duplicate_response error 13 (TryAgain) for the next 40 duplicate calls")
	if err := env.Sim.InjectDuplicateError(13, "simulated follower busy", 40); err != nil {
		t.Fatal(err)
	}
	at(0.40, "partition 9 unavailable for 2 s")
	if err := env.Sim.MakeUnavailable(table, 9, 2*time.Second, codec.ErrorInvalidState); err != nil {
		t.Fatal(err)
	}
	at(0.55, "restart the bridge")
	// Hold the follower's replies so that every batch the master has in
	// flight is inside the bridge when it drains: the drain then hands
	// all of them over, and the next ones go to the new bridge.
	env.Sim.SetDelay(codec.RPCDuplicate, 500*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	restartCtx, stopRestart := context.WithCancel(context.Background())
	defer stopRestart()
	if err := env.RestartBridge(restartCtx); err != nil {
		t.Fatal(err)
	}
	env.Sim.SetDelay(codec.RPCDuplicate, 0)
	at(0.70, "drop every follower connection again")
	if _, err := env.Sim.CloseConnections(""); err != nil {
		t.Fatal(err)
	}

	r := <-done
	if r.err != nil {
		t.Fatalf("replay: %v", r.err)
	}
	want := check(t, env, parts)
	if r.sum.Retries == 0 {
		t.Fatal("no retry happened: the faults did not reach the master")
	}
	c := env.Sim.Counters()
	t.Logf("%d mutations, %d batches, %d retries; follower: %d errors injected, %d misplaced rejected; %d keys verified",
		r.sum.Mutations, r.sum.Batches, r.sum.Retries, c.ErrorsInjected, len(c.MisplacedRejected), len(want.Keys))
}
