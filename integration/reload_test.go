package integration

import (
	"context"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/server"
	"github.com/dupbridge/dupbridge/verify"
	"github.com/dupbridge/dupbridge/walwriter"
)

// TestReloadUnderTraffic reloads the bridge while a replay runs: a table is
// added (created on the follower, then replayed into), max_inflight_bytes
// and the fail mode are changed. Nothing is lost: every key of both tables
// is verified through the follower's routing, and no master connection is
// dropped or refused by the reload.
func TestReloadUnderTraffic(t *testing.T) {
	n := 20_000
	if testing.Short() {
		n = 6_000
	}
	paths, parts := generate(t, walwriter.GenOptions{
		AppID: 3, Partitions: 8, Mutations: n, Seed: 5, FinalEmpty: true,
		HashKeys: 2_000, SortKeys: 4, ValueMin: 8, ValueMax: 200,
	})
	addPaths, addParts := generate(t, walwriter.GenOptions{
		AppID: 4, Partitions: 4, Mutations: n / 4, Seed: 6, FinalEmpty: true,
		HashKeys: 500, SortKeys: 4, ValueMin: 8, ValueMax: 200,
	})
	env := start(t, localcluster.Options{FollowerPartitions: 16, Strict: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	done := make(chan error, 1)
	go func() {
		// About a second long, so that the reload lands in its middle.
		_, err := env.Replay(ctx, paths, replay.Options{Rate: float64(n)})
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for env.Bridge.Stats().DupAcked < 50 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	before := env.Bridge.Stats()
	if before.DupAcked < 50 {
		t.Fatal("the replay did not get going")
	}

	next := *env.Config
	next.Tables = append([]config.Table(nil), env.Config.Tables...)
	added := next.Tables[0]
	added.Name, added.SourceTable, added.FollowerTable, added.AppID = "added", "added", "added", 2
	added.FollowerPartitionCount = 8 // the bridge creates it on the follower
	next.Tables = append(next.Tables, added)
	next.Tables[0].FailurePolicy, next.Tables[0].SkipAfterAttempts = config.PolicySkip, 1000
	next.Bridge.MaxInflightBytes = 32 << 20
	changes, err := env.Bridge.Reload(&next)
	if err != nil {
		t.Fatal(err)
	}
	changes = append(changes, env.Followers.Reconfigure(ctx, &next)...)
	t.Logf("reload under traffic: %q", changes)
	select {
	case err := <-done:
		t.Fatalf("the replay ended (%v) before the reload was applied: the test proves nothing", err)
	default:
	}
	atReload := env.Bridge.Stats()
	if rt := env.Followers.Router(env.Opts.Table); rt == nil || rt.Policy().MaxAttempts != 1000 {
		t.Errorf("fail mode not applied to the router")
	}

	if err := <-done; err != nil {
		t.Fatalf("replay across the reload: %v", err)
	}
	after := env.Bridge.Stats()
	if after.DupAcked <= atReload.DupAcked {
		t.Errorf("no request acknowledged after the reload (%d before, %d after)", atReload.DupAcked, after.DupAcked)
	}
	if after.ConnectionsOpened != before.ConnectionsOpened || after.FramingErrors != 0 || sumRefused(after) != 0 {
		t.Errorf("connections across the reload: opened %d -> %d, framing errors %d, refused %v",
			before.ConnectionsOpened, after.ConnectionsOpened, after.FramingErrors, after.ConnectionsRefused)
	}
	check(t, env, parts)

	// The added table: opened on the follower and served.
	deadline = time.Now().Add(30 * time.Second)
	for env.Followers.PartitionCount("added") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	o := replay.Options{MetaAddrs: []string{env.BridgeAddr}, Table: "added", ClusterID: localcluster.MasterClusterID,
		Paths: addPaths, RetryDelay: 100 * time.Millisecond}
	if _, err := replay.Run(ctx, o); err != nil {
		t.Fatalf("replay into the added table: %v", err)
	}
	want, err := verify.FromPlogs(addParts)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Follower(ctx, env.FollowerMetas(), "added", want, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Checked != len(want.Keys) {
		t.Fatalf("added table: %d of %d keys wrong: %v", rep.Mismatches, rep.Checked, rep.Problems)
	}
}

func sumRefused(st server.Stats) int64 {
	var n int64
	for _, v := range st.ConnectionsRefused {
		n += v
	}
	return n
}
