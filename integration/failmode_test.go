package integration

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dupbridge/dupbridge/ctlclient"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/server"
	"github.com/dupbridge/dupbridge/walwriter"
)

// TestFailModeThroughCtl sets the fail mode with ctl against a follower
// that fails duplicate requests: slow retries until the follower answers
// and loses nothing; skip after N drops each part only after exactly N
// failed attempts, acknowledges the master and counts every drop.
func TestFailModeThroughCtl(t *testing.T) {
	paths, parts := generate(t, walwriter.GenOptions{
		AppID: 3, Partitions: 2, Mutations: 300, Seed: 21, FinalEmpty: true,
		HashKeys: 100, SortKeys: 2, ValueMin: 8, ValueMax: 64,
	})
	cases := []struct {
		name     string
		mode     string
		attempts int
		failures int // duplicate requests the follower fails (error 13)
	}{
		{"slow outlasts failures", "slow", 0, 6},
		{"skip after 3", "skip", 3, 1_000_000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			env := start(t, localcluster.Options{FollowerPartitions: 4, HTTP: true, Logger: zap.New(core)})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cl, err := ctlclient.New(env.HTTPAddr, ctlclient.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Control(ctx, env.Opts.Table, server.ControlRequest{Action: server.ActionFailMode, FailMode: tc.mode, SkipAfterAttempts: tc.attempts}); err != nil {
				t.Fatal(err)
			}
			if err := env.Sim.InjectDuplicateError(13, "injected busy", tc.failures); err != nil {
				t.Fatal(err)
			}
			if _, err := env.Replay(ctx, paths, replay.Options{}); err != nil {
				t.Fatalf("replay: %v", err)
			}
			st := env.Bridge.Stats()
			rs := env.Followers.Router(env.Opts.Table).Stats()
			skips := logs.FilterMessageSnippet("skipped after repeated failures").All()
			if tc.mode == "slow" {
				check(t, env, parts)
				if st.PartsSkipped != 0 || len(skips) != 0 || rs.Retries < uint64(tc.failures) {
					t.Errorf("slow: %d parts skipped, %d skip logs, %d retries (want 0, 0, ≥ %d)", st.PartsSkipped, len(skips), rs.Retries, tc.failures)
				}
				return
			}
			held, err := env.Sim.Dump(env.Opts.Table)
			if err != nil {
				t.Fatal(err)
			}
			if len(held) != 0 || st.PartsSkipped == 0 || st.PartsSkipped != st.DupParts || rs.SkippedBatches != uint64(len(skips)) {
				t.Errorf("skip: follower holds %d keys, %d of %d parts skipped, router skipped %d batches, %d skip logs",
					len(held), st.PartsSkipped, st.DupParts, rs.SkippedBatches, len(skips))
			}
			for _, e := range skips {
				if got := e.ContextMap()["attempts"]; got != int64(tc.attempts) {
					t.Fatalf("a part skipped after %v attempts, want exactly %d", got, tc.attempts)
				}
			}
			if rs.SkippedEntries != uint64(st.DupEntries-st.DupSuperseded) {
				t.Errorf("router skipped %d entries, the bridge forwarded %d", rs.SkippedEntries, st.DupEntries-st.DupSuperseded)
			}
		})
	}
}
