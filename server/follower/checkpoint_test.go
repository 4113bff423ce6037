package follower

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/checkpoint"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/jsonfile"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/server"
)

// LoadCheckpoint copies a master table's checkpoint into the staging
// directory, loads it through the table's router and removes the
// directory; a staging directory left from the table before a split (another
// partition count) is started over instead of failing for good.
func TestLoadCheckpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := t.TempDir()
	for p := 0; p < 2; p++ {
		if err := os.MkdirAll(filepath.Join(root, fmt.Sprint(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, fmt.Sprint(p), "000009.sst"), []byte("table bytes"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	master, err := pegasussim.Start(ctx, pegasussim.Options{Tables: []pegasussim.TableSpec{{Name: "m", Partitions: 2, CheckpointDir: root}}})
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	follower, err := pegasussim.Start(ctx, pegasussim.Options{Tables: []pegasussim.TableSpec{{Name: "f", Partitions: 8}},
		Strict: true, ClusterID: 2, DupGroup: map[string]uint8{"A": 1, "F": 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()

	recs := map[int][]checkpoint.Record{}
	for i := 0; i < 200; i++ {
		k := mutation.AppendRawKey(nil, fmt.Appendf(nil, "h%d", i), nil)
		p := mutation.PartitionIndex(mutation.KeyHash(k), 2)
		recs[p] = append(recs[p], checkpoint.Record{Key: k, Value: []byte("v"), Timetag: mutation.Timetag(uint64(1e15+i), 1, false)})
	}
	var opened sync.Map
	open := func(dir string, partition, count int, _ []byte) (checkpoint.Source, error) {
		if _, err := os.Stat(filepath.Join(dir, "000009.sst")); err != nil || count != 2 {
			return nil, fmt.Errorf("partition %d of %d not staged: %v", partition, count, err)
		}
		opened.Store(partition, true)
		return checkpoint.NewMemorySource(recs[partition]), nil
	}
	cfg, err := config.Parse(fmt.Appendf(nil, "[pegasus.clusters]\n  F = %s\n[duplication-group]\n  A = 1\n  F = 2\n"+
		"[dupbridge]\n  listen = 127.0.0.1:1\n[table.f]\n  follower_cluster = F\n  master_cluster = A\n", follower.MetaAddr()), "t.ini")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := New(cfg, Options{RetryMin: 10 * time.Millisecond, OpenCheckpoint: open})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	fs.Open(ctx)

	staging := filepath.Join(t.TempDir(), "checkpoints", "f")
	if err := os.MkdirAll(staging, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := checkpoint.Manifest{Version: 1, Table: "m", PartitionCount: 1, Partitions: []checkpoint.PartitionManifest{{Index: 0}}}
	if err := jsonfile.Write(filepath.Join(staging, checkpoint.ManifestName), &stale); err != nil {
		t.Fatal(err)
	}
	job := &server.LoadJob{Table: &cfg.Tables[0], MasterMetas: []string{master.MetaAddr()}, MasterTable: "m",
		MasterClusterID: 1, Dir: staging}
	if err := fs.LoadCheckpoint(ctx, job); err != nil {
		t.Fatal(err)
	}
	held, err := follower.Dump("f")
	if err != nil || len(held) != 200 {
		t.Fatalf("follower holds %d keys (%v), want 200", len(held), err)
	}
	if _, ok := opened.Load(1); !ok {
		t.Fatal("partition 1 never read")
	}
	if _, err := os.Stat(staging); !os.IsNotExist(err) {
		t.Fatalf("staging directory left: %v", err)
	}
	// Without a reader the load is refused.
	fs2, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs2.Close()
	if err := fs2.LoadCheckpoint(ctx, job); err == nil {
		t.Fatal("load without a checkpoint reader succeeded")
	}
}
