package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dupbridge/dupbridge/checkpoint"
	"github.com/dupbridge/dupbridge/internal/sstgen"
	"github.com/dupbridge/dupbridge/mutation"
)

// openCheckpoint reads a staged partition as the bridge does.
var openCheckpoint checkpoint.Opener = checkpoint.OpenSST

// masterSST are the table options of the master's generated checkpoints:
// Pegasus's defaults (LZ4, format_version 5, 16-key restarts).
var masterSST = sstgen.Options{Compression: "lz4", Checksum: "crc32c", FormatVersion: 5, BlockRestartInterval: 16}

// writeCheckpoints writes one real RocksDB checkpoint per master partition
// under root (root/<partition>), built by ldb (internal/sstgen), with the
// records as the newest live versions: an older table holds stale versions
// of some keys and keys that the newer table deletes.
func writeCheckpoints(t *testing.T, root string, byPart map[int][]checkpoint.Record) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, masterPartitions)
	for p := 0; p < masterPartitions; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = writeCheckpoint(t, p, checkpoint.PartitionDir(root, p), byPart[p])
		}()
	}
	wg.Wait()
	for p, err := range errs {
		if err != nil {
			t.Fatalf("partition %d: %v", p, err)
		}
	}
}

func writeCheckpoint(t *testing.T, p int, dir string, recs []checkpoint.Record) error {
	var older, newer []sstgen.Op
	for i, r := range recs {
		v, err := mutation.AppendValue(nil, mutation.ValueV1, r.ExpireTs, r.Timetag, r.Value)
		if err != nil {
			return err
		}
		if i%5 == 0 {
			stale, _ := mutation.AppendValue(nil, mutation.ValueV1, 0, 1, []byte("stale"))
			older = append(older, sstgen.Op{Key: r.Key, Value: stale})
		}
		newer = append(newer, sstgen.Op{Key: r.Key, Value: v})
	}
	for i := 0; i < 20; i++ { // written, then deleted: never loaded
		k := mutation.AppendRawKey(nil, fmt.Appendf(nil, "gone%d-%d", p, i), []byte("x"))
		v, _ := mutation.AppendValue(nil, mutation.ValueV1, 0, 1, []byte("deleted later"))
		older = append(older, sstgen.Op{Key: k, Value: v})
		newer = append(newer, sstgen.Op{Key: k, Delete: true})
	}
	work := dir + ".work"
	cp, err := sstgen.Build(t, work, masterSST, 1, [][]sstgen.Op{older, newer})
	if err != nil {
		return err
	}
	if err := os.Rename(cp, dir); err != nil {
		return err
	}
	return os.RemoveAll(work)
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
