package integration

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dupbridge/dupbridge/ctlclient"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/server"
	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

// expectedEntries reads the plogs of parts (one list per master partition)
// as a master's duplicator would ship them, committed only and without
// empty writes, and counts the entries and those a follower of count
// partitions places in another partition than a master that sees
// advertised partitions sends them to (batches of one entry, routed by
// its hash): what the bridge's accepted entries and
// dupbridge_moved_entries_total must say, derived from the logs and the
// key hash alone.
func expectedEntries(t *testing.T, parts [][]string, count, advertised int) (entries, moved int64) {
	t.Helper()
	for _, paths := range parts {
		rd, err := walreader.Open(paths, walreader.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cm := walreader.NewCommitted(rd, walreader.CommittedOptions{})
		for {
			m, err := cm.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.IsEmptyWrite() {
				continue
			}
			for _, u := range m.Updates {
				if !u.Code.Duplicated() {
					continue
				}
				h, err := mutation.PayloadHash(u.Code, u.Data)
				if err != nil {
					t.Fatalf("%s decree %d: %v", m.File, m.Decree, err)
				}
				entries++
				if mutation.PartitionIndex(h, count) != mutation.PartitionIndex(h, advertised) {
					moved++
				}
			}
		}
		_ = rd.Close()
	}
	return entries, moved
}

// TestOperatorControls drives the operator's verbs through ctlclient (what
// `dupbridge ctl` runs) against a bridge advertising 8 partitions and
// forwarding to a 16-partition follower: while paused nothing is acknowledged or
// shipped; start drains it all and every key is verified; the counters
// move by exactly what the logs imply; remove refuses (and the log says
// so); the state survives a bridge restart.
func TestOperatorControls(t *testing.T) {
	n := 6_000
	if testing.Short() {
		n = 2_000
	}
	paths, parts := generate(t, walwriter.GenOptions{
		AppID: 3, Partitions: 8, Mutations: n, Seed: 11, FinalEmpty: true,
		HashKeys: 800, SortKeys: 4, ValueMin: 8, ValueMax: 200,
	})
	// The bridge tells masters the table has 8 partitions; the follower
	// has 16. One entry per batch makes each request's gpid the entry's
	// own hash % 8.
	wantEntries, wantMoved := expectedEntries(t, parts, 16, 8)
	one := replay.Options{BatchBytes: 1}
	core, logs := observer.New(zap.InfoLevel)
	env := start(t, localcluster.Options{FollowerPartitions: 16, AdvertisedPartitions: 8, Strict: true, HTTP: true, Logger: zap.New(core)})
	cl, err := ctlclient.New(env.HTTPAddr, ctlclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	table := env.Opts.Table

	if r, err := cl.Control(ctx, table, server.ControlRequest{Action: server.ActionPause}); err != nil || r.State != server.StatePaused || !r.Persisted {
		t.Fatalf("pause: %+v, %v", r, err)
	}
	done := make(chan error, 1)
	var sum replay.Summary
	go func() {
		var err error
		sum, err = env.Replay(ctx, paths, one)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for env.Bridge.Stats().Paused < 8 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // masters retry every 100 ms here: several rounds refused
	st := env.Bridge.Stats()
	held, err := env.Sim.Dump(table)
	if err != nil {
		t.Fatal(err)
	}
	if st.Paused < 8 || st.DupAcked != 0 || st.DupEntries != 0 || len(held) != 0 {
		t.Fatalf("paused: %d refused, %d acknowledged, %d entries accepted, follower holds %d keys; want refusals only",
			st.Paused, st.DupAcked, st.DupEntries, len(held))
	}
	d, err := cl.Duplication(ctx, table)
	if err != nil || len(d.Tables) != 1 || d.Tables[0].State != server.StatePaused {
		t.Fatalf("/duplication while paused: %+v, %v", d, err)
	}

	if r, err := cl.Control(ctx, table, server.ControlRequest{Action: server.ActionStart}); err != nil || r.State != server.StateRunning || r.WasState != server.StatePaused {
		t.Fatalf("start: %+v, %v", r, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("replay after start: %v", err)
	}
	check(t, env, parts)
	st = env.Bridge.Stats()
	if sum.Entries != wantEntries {
		t.Fatalf("replay shipped %d entries, the logs hold %d: the model of expectedEntries is wrong", sum.Entries, wantEntries)
	}
	if wantMoved == 0 {
		t.Fatal("no entry moves from 8 to 16 partitions: the test proves nothing")
	}
	// Each request was accepted once (no fault, so no resend after start).
	if st.DupEntries != wantEntries || st.DupMoved != wantMoved {
		t.Errorf("bridge accepted %d entries and moved %d; the logs imply %d and %d", st.DupEntries, st.DupMoved, wantEntries, wantMoved)
	}
	d, err = cl.Duplication(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	td := d.Tables[0]
	var shipped uint64
	acked := int64(0)
	for _, p := range td.Partitions {
		shipped += p.ShippedEntries
		acked = max(acked, p.LastAckedTimestampUs)
	}
	if td.ReceivedEntries != wantEntries || int64(shipped) != wantEntries-st.DupSuperseded || len(td.Partitions) != 16 || acked == 0 {
		t.Errorf("/duplication: received %d, shipped %d over %d partitions, last acked %d; want %d received, %d shipped (%d superseded), 16 partitions",
			td.ReceivedEntries, shipped, len(td.Partitions), acked, wantEntries, wantEntries-st.DupSuperseded, st.DupSuperseded)
	}

	// remove: refused with a retryable error naming it, and logged.
	if r, err := cl.Control(ctx, table, server.ControlRequest{Action: server.ActionRemove}); err != nil || r.State != server.StateRemoved {
		t.Fatalf("remove: %+v, %v", r, err)
	}
	if logs.FilterMessageSnippet("table removed from duplication").Len() != 1 {
		t.Errorf("remove not logged: %v", logs.FilterField(zap.String("table", table)).All())
	}
	rctx, rcancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, err = env.Replay(rctx, paths[:1], replay.Options{})
	rcancel()
	if err == nil {
		t.Error("a replay into a removed table finished")
	}
	if got := env.Bridge.Stats().Removed; got == 0 {
		t.Error("no request refused as removed")
	}

	// The state survives a restart; start takes the table back.
	if err := env.RestartBridge(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := cl.Duplication(ctx, table); err != nil || d.Tables[0].State != server.StateRemoved {
		t.Fatalf("after restart: %+v, %v; want removed", d, err)
	}
	if r, err := cl.Control(ctx, table, server.ControlRequest{Action: server.ActionFailMode, FailMode: "skip", SkipAfterAttempts: 3}); err != nil || r.FailMode != "skip" || r.SkipAfterAttempts != 3 {
		t.Fatalf("fail-mode: %+v, %v", r, err)
	}
	if err := env.RestartBridge(ctx); err != nil {
		t.Fatal(err)
	}
	d, err = cl.Duplication(ctx, table)
	if err != nil || d.Tables[0].State != server.StateRemoved || d.Tables[0].FailMode != "skip" || d.Tables[0].SkipAfterAttempts != 3 {
		t.Fatalf("after a second restart: %+v, %v; want removed, skip after 3", d, err)
	}
	if rt := env.Followers.Router(table); rt == nil || rt.Policy().MaxAttempts != 3 {
		t.Errorf("router policy after restart: %+v, want skip after 3", rt.Policy())
	}
	if _, err := cl.Control(ctx, table, server.ControlRequest{Action: server.ActionStart}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Replay(ctx, paths, replay.Options{}); err != nil {
		t.Fatalf("replay after start: %v", err)
	}
	check(t, env, parts)
}
