package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/checkpoint"
	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/jsonfile"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/verify"
	"github.com/dupbridge/dupbridge/walwriter"
)

const (
	masterTable      = "master"
	masterPartitions = 8
)

// fullDupMaster is a simulated master cluster whose table's checkpoint
// holds recs, split by master partition.
type fullDupMaster struct {
	sim  *pegasussim.Cluster
	root string
}

// buildMaster writes the master table's checkpoints holding recs (one per
// master partition, real RocksDB files) and returns their root.
func buildMaster(t *testing.T, recs []checkpoint.Record) string {
	t.Helper()
	root := t.TempDir()
	byPart := map[int][]checkpoint.Record{}
	for _, r := range recs {
		p := mutation.PartitionIndex(mutation.KeyHash(r.Key), masterPartitions)
		byPart[p] = append(byPart[p], r)
	}
	writeCheckpoints(t, root, byPart)
	return root
}

// startMaster serves the checkpoints under root as the master table's.
func startMaster(t *testing.T, root string) *fullDupMaster {
	t.Helper()
	sim, err := pegasussim.Start(context.Background(), pegasussim.Options{
		Tables: []pegasussim.TableSpec{{Name: masterTable, Partitions: masterPartitions, CheckpointDir: root, CheckpointDecree: 1234}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return &fullDupMaster{sim: sim, root: root}
}

// createApp sends the master meta's create_app for a full duplication
// (duplication.md §1.6 step 5) to the bridge.
func createApp(ctx context.Context, bridge, masterMeta, status string) error {
	m, err := rpcclient.NewMeta([]string{bridge}, rpcclient.MetaOptions{Rounds: 1})
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.CreateApp(ctx, "demo", rpcclient.CreateAppOptions{PartitionCount: masterPartitions, ReplicaCount: 3, Envs: map[string]string{
		"duplication.master_cluster": "master", "duplication.master_metas": masterMeta,
		"duplication.master_app_name": masterTable, "duplication.follower_app_status": status,
	}})
	return err
}

// checkpointRecords makes n fresh live-or-expired records plus older
// versions of some keys the plogs write: values of every shape the
// checkpoint may hold (no timestamp, foreign and master cluster ids,
// expired, expiring later, never expiring).
func checkpointRecords(n int, plogKeys []string) (recs []checkpoint.Record, fresh map[string]checkpoint.Record) {
	rng := rand.New(rand.NewPCG(7, 9))
	fresh = map[string]checkpoint.Record{}
	// Fixed expiries, so that the generated files are the same every run.
	past := mutation.ExpireTsFromUnix(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	future := mutation.ExpireTsFromUnix(time.Date(2070, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	base := uint64(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	for i := 0; i < n; i++ {
		r := checkpoint.Record{
			Key:   mutation.AppendRawKey(nil, fmt.Appendf(nil, "ck%05d", i/4), fmt.Appendf(nil, "s%d", i%4)),
			Value: bytes.Repeat([]byte{byte(rng.Uint32())}, 1+rng.IntN(120)),
		}
		id := uint8(localcluster.MasterClusterID)
		switch i % 9 {
		case 1:
			id = 0 // no cluster id: the load stamps the master's
		case 2:
			id = 77 // unknown to the bridge: stamped with the master's
		}
		r.Timetag = mutation.Timetag(base+uint64(i), id, false)
		switch i % 13 {
		case 3:
			r.Timetag = 0 // no timestamp (a value INCR wrote)
		case 4:
			r.ExpireTs = past // expired: never loaded
		case 5:
			r.ExpireTs = future
		}
		recs = append(recs, r)
		fresh[string(r.Key)] = r
	}
	// Older versions of keys the plogs write later: the plog's value wins.
	for i, k := range plogKeys {
		if i%3 == 0 {
			recs = append(recs, checkpoint.Record{Key: []byte(k), Value: []byte("stale checkpoint value"),
				Timetag: mutation.Timetag(base, localcluster.MasterClusterID, false)})
		}
	}
	return recs, fresh
}

// TestFullDuplicationEndToEnd: a master table of 8 partitions is copied
// and loaded into a follower of 32 through the bridge's create_app, while
// a replay of the master's plogs goes on through the same bridge. The
// bridge is restarted (in process: its server and follower routers stop,
// and a new bridge starts on the same state_dir and address) once in the
// middle of the copy and once in the middle of the load; it resumes both.
// It answers "created" only after the load is complete, the health check
// then sees the master's 8 partitions, and every key is where the
// follower's hash puts it, with the newest value (the plog's where it
// wrote the key later, the checkpoint's otherwise), the right expiry and
// timetag.
func TestFullDuplicationEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	now := time.Now()
	paths, parts := generate(t, walwriter.GenOptions{
		AppID: 1, Partitions: masterPartitions, Mutations: 4000, Seed: 5, FinalEmpty: true,
		HashKeys: 300, SortKeys: 8, ValueMin: 8, ValueMax: 200,
	})
	plog, err := verify.FromPlogs(parts)
	if err != nil {
		t.Fatal(err)
	}
	recs, fresh := checkpointRecords(12000, plog.Sorted())
	master := startMaster(t, buildMaster(t, recs))
	staged := treeSize(master.root)

	env := start(t, localcluster.Options{
		FollowerPartitions: 32, Strict: true, OpenCheckpoint: openCheckpoint,
		// Slow enough that each phase can be interrupted: about 1.5 s of
		// copying and 1 s of loading.
		CheckpointCopyRate: staged * 2 / 3, CopyChunkBytes: 16 << 10,
		CheckpointLoadRate: 12000, LoadStepKeys: 300,
	})
	staging := filepath.Join(env.Opts.StateDir, "checkpoints", "demo")
	if err := createApp(ctx, env.BridgeAddr, master.sim.MetaAddr(), "creating"); err != nil {
		t.Fatalf("creating: %v", err)
	}

	// The master's incremental shipping goes on meanwhile, slowed so that
	// it overlaps the load.
	var replayWG sync.WaitGroup
	var sum replay.Summary
	var replayErr error
	replayWG.Add(1)
	go func() {
		defer replayWG.Done()
		sum, replayErr = env.Replay(ctx, paths, replay.Options{Rate: 1500})
	}()

	waitFor(t, "the copy to be under way", copyUnderWay(staging))
	if err := env.RestartBridge(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("bridge restarted during the copy")
	waitFor(t, "the load to be under way", loadUnderWay(staging))
	if err := env.RestartBridge(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("bridge restarted during the load")

	// The master asks "created" at every sync until it succeeds; it must
	// not succeed before every checkpoint key is on the follower.
	busy := 0
	waitFor(t, `"created" to succeed`, func() bool {
		err := createApp(ctx, env.BridgeAddr, master.sim.MetaAddr(), "created")
		if rpcclient.ErrName(err) == codec.ErrorBusyCreating {
			busy++
			return false
		}
		if err != nil {
			t.Logf("created: %v", err)
			return false
		}
		return true
	})
	if busy == 0 {
		t.Error(`"created" succeeded at the first try: the load cannot have been running`)
	}
	held, err := env.Sim.Dump("demo")
	if err != nil {
		t.Fatal(err)
	}
	heldKeys := map[string]pegasussim.Record{}
	for _, r := range held {
		heldKeys[string(mutation.AppendRawKey(nil, r.HashKey, r.SortKey))] = r
	}
	for k, r := range fresh {
		if _, ok := heldKeys[k]; !ok && !(r.ExpireTs != 0 && mutation.Expired(r.ExpireTs, now.Unix())) {
			t.Fatalf(`"created" answered while checkpoint key %q is not on the follower`, k)
		}
	}
	// The master's health check (duplication.md §1.6 step 8).
	m, _ := rpcclient.NewMeta([]string{env.BridgeAddr}, rpcclient.MetaOptions{})
	defer m.Close()
	cfg, err := m.QueryConfig(ctx, "demo", nil)
	if err != nil || len(cfg.Partitions) != masterPartitions {
		t.Fatalf("health check: %v, %+v", err, cfg)
	}

	replayWG.Wait()
	if replayErr != nil { // errors on the way (the restarts) were retried
		t.Fatalf("replay: %v", replayErr)
	}
	checkFullCopy(t, ctx, env.Sim, plog, fresh, now)
	if _, err := os.Stat(staging); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging directory left after the load: %v", err)
	}
	t.Logf("%d checkpoint records (%s staged), %d plog mutations (%d errors retried), %d busy answers to created",
		len(recs), humanSize(staged), sum.Mutations, sum.Errors, busy)
}

// checkFullCopy verifies the follower: the plog's keys with the plog's
// values, the checkpoint's other live keys with their values, expiry and
// timetag, nothing else, each key at its own partition.
func checkFullCopy(t *testing.T, ctx context.Context, follower *pegasussim.Cluster, plog *verify.State, fresh map[string]checkpoint.Record, now time.Time) {
	t.Helper()
	want := &verify.State{Keys: maps.Clone(plog.Keys)}
	for k, r := range fresh {
		if r.ExpireTs != 0 && mutation.Expired(r.ExpireTs, now.Unix()) {
			continue
		}
		want.Keys[k] = verify.Value{Value: r.Value, ExpireTs: int32(r.ExpireTs)}
	}
	rep, err := verify.Follower(ctx, []string{follower.MetaAddr()}, "demo", want, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("%d of %d keys wrong: %v", rep.Mismatches, rep.Checked, rep.Problems)
	}
	held, err := follower.Dump("demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != len(want.Keys) {
		t.Fatalf("follower holds %d keys, want %d", len(held), len(want.Keys))
	}
	for _, h := range held {
		k := string(mutation.AppendRawKey(nil, h.HashKey, h.SortKey))
		if h.Misplaced {
			t.Fatalf("key %q at partition %d", k, h.Partition)
		}
		r, ok := fresh[k]
		if !ok {
			continue
		}
		ts, _, _ := mutation.SplitTimetag(r.Timetag)
		wantTT := mutation.Timetag(ts, localcluster.MasterClusterID, false)
		if h.ExpireTs != r.ExpireTs || h.Timetag != wantTT {
			t.Fatalf("key %q: expire %d timetag %x, want %d %x", k, h.ExpireTs, h.Timetag, r.ExpireTs, wantTT)
		}
	}
	if mis, _ := follower.Misplaced("demo"); len(mis) > 0 {
		t.Fatalf("%d misplaced writes, first %+v", len(mis), mis[0])
	}
}

// copyUnderWay: the staging manifest shows some bytes copied, not all.
func copyUnderWay(staging string) func() bool {
	return func() bool {
		m, err := checkpoint.ReadManifest(staging)
		if err != nil {
			return false
		}
		total, done := m.Bytes()
		return done > 0 && done < total
	}
}

// loadUnderWay: the load position shows some keys loaded, not all.
func loadUnderWay(staging string) func() bool {
	return func() bool {
		var pos struct {
			Partitions []struct {
				Keys int64
				Done bool
			}
		}
		found, _ := jsonfile.Read(filepath.Join(staging, checkpoint.PositionName), &pos)
		var keys int64
		all := found && len(pos.Partitions) > 0
		for _, p := range pos.Partitions {
			keys += p.Keys
			all = all && p.Done
		}
		return keys > 0 && !all
	}
}

// treeSize is the size of the regular files under root.
func treeSize(root string) int64 {
	var n int64
	filepath.Walk(root, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func humanSize(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Bad checkpoints through the bridge: each fault fails the load with an
// error naming what is wrong (the file, and the offset where there is one),
// "created" keeps getting ERR_BUSY_CREATING (never ERR_OK on a partial
// load), and once the master is healthy again the retried load completes
// and "created" succeeds.
func TestFullDuplicationBadCheckpoint(t *testing.T) {
	now := time.Now()
	recs, fresh := checkpointRecords(2000, nil)
	built := buildMaster(t, recs)
	sst := largestSST(t, checkpoint.PartitionDir(built, 0))
	cases := []struct {
		name  string
		fault pegasussim.NFSFault
		// corrupt damages the master's own file (its MD5 then matches) and
		// returns the repair.
		corrupt func(root string) func()
		want    []string
	}{
		{"truncated file", pegasussim.NFSFault{TruncateFile: sst, TruncateAt: 1000}, nil, []string{sst, "offset 0"}},
		{"flipped byte in the copy", pegasussim.NFSFault{FlipFile: sst, FlipAt: 7}, nil, []string{sst, "MD5"}},
		{"flipped byte on the master", pegasussim.NFSFault{}, func(root string) func() {
			return flipByte(t, filepath.Join(checkpoint.PartitionDir(root, 0), sst), 100)
		}, []string{"corrupt table", sst, "at offset", "checksum"}},
		{"missing file", pegasussim.NFSFault{MissingFile: sst}, nil, []string{"RPC_NFS_GET_FILE_SIZE", "file " + sst, "error code"}},
		{"master vanishes mid-copy", pegasussim.NFSFault{VanishAfter: 3}, nil, []string{"RPC_NFS_COPY", "offset"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			root := t.TempDir()
			copyTree(t, built, root)
			repair := func() {}
			if tc.corrupt != nil {
				repair = tc.corrupt(root)
			}
			master := startMaster(t, root)
			master.sim.InjectNFSFault(tc.fault)
			env := start(t, localcluster.Options{FollowerPartitions: 16, Strict: true, OpenCheckpoint: openCheckpoint, CopyChunkBytes: 16 << 10})
			if err := createApp(ctx, env.BridgeAddr, master.sim.MetaAddr(), "creating"); err != nil {
				t.Fatalf("creating: %v", err)
			}
			var status string
			waitFor(t, "the load to fail", func() bool {
				status = env.Bridge.Status().Tables[0].CheckpointLoad
				return len(status) > len("retrying: ")
			})
			for _, w := range tc.want {
				if !bytes.Contains([]byte(status), []byte(w)) {
					t.Fatalf("status %q does not say %q", status, w)
				}
			}
			for i := 0; i < 3; i++ {
				if err := createApp(ctx, env.BridgeAddr, master.sim.MetaAddr(), "created"); rpcclient.ErrName(err) != codec.ErrorBusyCreating {
					t.Fatalf(`"created" on a failed load: %v`, err)
				}
			}
			t.Logf("%s: %s", tc.name, status)
			master.sim.ClearFaults()
			repair()
			waitFor(t, `"created" after the master recovered`, func() bool {
				return createApp(ctx, env.BridgeAddr, master.sim.MetaAddr(), "created") == nil
			})
			checkFullCopy(t, ctx, env.Sim, &verify.State{Keys: map[string]verify.Value{}}, fresh, now)
		})
	}
}

// largestSST is the name of the biggest table in dir: the one holding the
// newest versions.
func largestSST(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	best, size := "", int64(-1)
	for _, e := range ents {
		fi, err := e.Info()
		if err == nil && filepath.Ext(e.Name()) == ".sst" && fi.Size() > size {
			best, size = e.Name(), fi.Size()
		}
	}
	if best == "" {
		t.Fatalf("no table in %s", dir)
	}
	return best
}

// flipByte inverts the byte at off of path and returns the repair.
func flipByte(t *testing.T, path string, off int64) func() {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xFF
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		b[off] ^= 0xFF
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
