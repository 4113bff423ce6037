package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/walwriter"
)

// The first real fixture (storage.md §1.12) puts a/a = a, b, c, d in
// decrees 1, 2, 3, 5; its final state is the single key a/a = "d".
func TestFromPlogsFixture(t *testing.T) {
	dir := t.TempDir()
	path, err := walwriter.WriteFixture(dir, "log.1.0.handle_real_private_log")
	if err != nil {
		t.Fatal(err)
	}
	st, err := FromPlogs([][]string{{path}})
	if err != nil {
		t.Fatal(err)
	}
	raw := string(mutation.AppendRawKey(nil, []byte("a"), []byte("a")))
	if len(st.Keys) != 1 || string(st.Keys[raw].Value) != "d" {
		t.Fatalf("state = %+v, want only a/a = d", st.Keys)
	}
	// Decrees 1-6 are committed (decree 7 carries last_committed 6); of
	// them 1, 2, 3, 5 are PUTs.
	if st.Mutations != 4 || st.Writes != 4 {
		t.Fatalf("mutations %d writes %d, want 4 and 4", st.Mutations, st.Writes)
	}
}

// startSim starts a simulated follower with table t of 4 partitions, for
// the test's duration.
func startSim(ctx context.Context, t *testing.T) *pegasussim.Cluster {
	t.Helper()
	sim, err := pegasussim.Start(ctx, pegasussim.Options{
		Tables:   []pegasussim.TableSpec{{Name: "t", Partitions: 4}},
		DupGroup: map[string]uint8{"master": 1}, ClusterID: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// A replay into the simulator, then a check through the follower's own
// routing: everything matches; a key changed behind the replay's back is
// reported.
func TestFollowerDetectsMatchAndMismatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sim := startSim(ctx, t)
	gen, err := walwriter.Generate(ctx, walwriter.GenOptions{
		Dir: t.TempDir(), Partitions: 4, Mutations: 2000, Seed: 7, FinalEmpty: true,
		HashKeys: 100, SortKeys: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	var parts [][]string
	var roots []string
	for _, p := range gen.Partitions {
		parts = append(parts, []string{p.Dir})
		roots = append(roots, p.Dir)
	}
	if _, err := replay.Run(ctx, replay.Options{
		MetaAddrs: []string{sim.MetaAddr()}, Table: "t", ClusterID: 1, Paths: roots,
		RetryDelay: 50 * time.Millisecond, BatchBytes: 1 << 20,
	}); err != nil {
		t.Fatal(err)
	}
	st, err := FromPlogs(parts)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Keys) == 0 {
		t.Fatal("generated logs imply no keys")
	}
	rep, err := Follower(ctx, []string{sim.MetaAddr()}, "t", st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Checked != len(st.Keys) {
		t.Fatalf("report %+v, want all %d keys matched", rep, len(st.Keys))
	}

	// Overwrite one expected key with a plain PUT through the follower.
	victim := st.Sorted()[0]
	meta, err := rpcclient.NewMeta([]string{sim.MetaAddr()}, rpcclient.MetaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	cfg, err := meta.QueryConfig(ctx, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	hash := mutation.KeyHash([]byte(victim))
	pidx := mutation.PartitionIndex(hash, int(cfg.PartitionCount))
	conn := rpcclient.NewConn(cfg.Partitions[pidx].Primary, rpcclient.Options{})
	defer conn.Close()
	body := mutation.AppendPut(nil, 0, []byte(victim), []byte("tampered"), 0)
	resp, err := conn.Call(ctx, &rpcclient.Request{RPCName: codec.RPCPut, AppID: cfg.AppID,
		PartitionIndex: int32(pidx), PartitionHash: hash, Body: body})
	if err != nil || !resp.OK() {
		t.Fatalf("put: %v %+v", err, resp)
	}
	rep, err = Follower(ctx, []string{sim.MetaAddr()}, "t", st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Mismatches != 1 || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "tampered") {
		t.Fatalf("report %+v, want exactly the tampered key", rep)
	}
}

// A server whose replica port answers reads ERR_HANDLER_NOT_FOUND (as a
// dupbridge does for every RPC it does not serve) is reported as that, not
// as keys that differ.
func TestFollowerNotServingReads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sim := startSim(ctx, t)
	if err := sim.InjectError(codec.RPCGet, codec.ErrorHandlerNotFound, 1_000_000); err != nil {
		t.Fatal(err)
	}
	st := &State{Keys: map[string]Value{}}
	for i := range 500 {
		st.Keys[string(mutation.AppendRawKey(nil, []byte{byte(i), byte(i >> 8)}, []byte("s")))] = Value{Value: []byte("v")}
	}
	rep, err := Follower(ctx, []string{sim.MetaAddr()}, "t", st, Options{Parallel: 8})
	if !errors.Is(err, ErrNotServingReads) || !strings.Contains(err.Error(), "ERR_HANDLER_NOT_FOUND") ||
		!strings.Contains(err.Error(), "dupbridge") || strings.Contains(err.Error(), "differ") {
		t.Fatalf("err = %v", err)
	}
	if rep.Checked >= len(st.Keys) {
		t.Errorf("checked %d of %d keys: want it to stop at the first answer", rep.Checked, len(st.Keys))
	}
}
