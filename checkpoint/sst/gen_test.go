package sst_test

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/internal/sstgen"
)

// The generated checkpoints live in one temp dir per test process and are
// built once per option set, on first use.
var (
	genRoot  string
	genMu    sync.Mutex
	genCache = map[string]*generated{}
)

type generated struct {
	once sync.Once
	dir  string
	data sstgen.Data
	err  error
}

// genNow is the "now" of every generated history: expiry is judged
// against it, not the wall clock, so results do not drift.
var genNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sst-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	genRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// matrix is every compression × checksum × format_version the issue asks
// for (storage.md §5.1: Pegasus ≤ 2.5 writes v2/CRC32c, master v5/XXH3),
// plus index and restart variants that operators can configure.
func matrix() []sstgen.Options {
	var out []sstgen.Options
	for _, c := range []string{"none", "snappy", "lz4", "zstd"} {
		for _, sum := range []string{"crc32c", "xxh3"} {
			for v := 2; v <= 5; v++ {
				out = append(out, sstgen.Options{Compression: c, Checksum: sum, FormatVersion: v})
			}
		}
	}
	return append(out,
		sstgen.Options{Compression: "lz4", Checksum: "xxhash64", FormatVersion: 2},
		sstgen.Options{Compression: "lz4hc", Checksum: "crc32c", FormatVersion: 5, BlockRestartInterval: 4},
		sstgen.Options{Compression: "zlib", Checksum: "crc32c", FormatVersion: 2},
		sstgen.Options{Compression: "zstd", Checksum: "xxh3", FormatVersion: 5, IndexType: "two_level", BlockSize: 512},
		sstgen.Options{Compression: "lz4", Checksum: "xxh3", FormatVersion: 5, IndexType: "first_key"},
		sstgen.Options{Compression: "snappy", Checksum: "crc32c", FormatVersion: 4, IndexType: "two_level", BlockSize: 512},
	)
}

// build returns the checkpoint of option set o holding a generated history
// (data version 1 for even format versions, 0 for odd ones, so both value
// schema families are covered).
func build(t testing.TB, o sstgen.Options) (string, sstgen.Data) {
	t.Helper()
	sstgen.LDB(t) // fail here, not inside the Once, when the tools are missing
	genMu.Lock()
	g := genCache[o.Name()]
	if g == nil {
		g = &generated{}
		genCache[o.Name()] = g
	}
	genMu.Unlock()
	g.once.Do(func() {
		g.data = sstgen.Generate(sstgen.Spec{
			Seed: seedOf(o.Name()), Keys: 500, Batches: 3,
			DataVersion: 1 - o.FormatVersion%2, Now: genNow.Unix(), ValueLen: 80,
		})
		g.dir, g.err = sstgen.Build(t, filepath.Join(genRoot, o.Name()), o, g.data.DataVersion, g.data.Batches)
	})
	if g.err != nil {
		t.Fatal(g.err)
	}
	return g.dir, g.data
}

// seedOf makes each option set's history fixed, whatever order tests run in.
func seedOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}
