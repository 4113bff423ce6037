package walreader_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

// benchPlog returns a generated single-partition plog directory of about
// size bytes, cached under os.TempDir across runs (generation is
// deterministic, so a complete cached copy is as good as a new one).
func benchPlog(b *testing.B, size int64) (dir string, bytes int64) {
	b.Helper()
	root := filepath.Join(os.TempDir(), fmt.Sprintf("dupbridge-bench-plog-v1-%d", size))
	done := filepath.Join(root, "complete")
	dir = walwriter.PlogDir(root, 1, 0)
	if _, err := os.Stat(done); err != nil {
		os.RemoveAll(root)
		_, err := walwriter.Generate(context.Background(), walwriter.GenOptions{Dir: root, TargetBytes: size, Seed: 1,
			ValueMin: 50, ValueMax: 1000, MaxBatch: 32, FinalEmpty: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	fs, err := walreader.ListDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range fs {
		bytes += f.Size
	}
	return dir, bytes
}

// BenchmarkPlogDecode: ours reads, verifies (CRC chain, log offsets) and
// decodes every mutation and update descriptor; baseline reads the same
// files into io.Discard — the I/O ceiling from page cache.
func BenchmarkPlogDecode(b *testing.B) {
	size := int64(256 << 20)
	if testing.Short() {
		size = 16 << 20
	}
	dir, total := benchPlog(b, size)
	fs, _ := walreader.ListDir(dir)
	// Both sides read from the page cache: warm it first, or the side that
	// runs first pays for the disk (the target is stated from page cache).
	for _, f := range fs {
		fh, err := os.Open(f.Path)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, fh)
		fh.Close()
		if err != nil {
			b.Fatalf("warming %s: %v", f.Path, err)
		}
	}
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(total)
		var muts, updates int64
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r, err := walreader.Open([]string{dir}, walreader.Options{})
			if err != nil {
				b.Fatal(err)
			}
			for {
				m, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				muts++
				updates += int64(len(m.Updates))
			}
			r.Close()
		}
		b.StopTimer()
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(muts)/b.Elapsed().Seconds(), "mutations/s")
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(muts), "allocs/mutation")
		if updates < muts {
			b.Fatal("no updates decoded")
		}
	})
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(total)
		for i := 0; i < b.N; i++ {
			for _, f := range fs {
				fh, err := os.Open(f.Path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, fh); err != nil {
					b.Fatal(err)
				}
				fh.Close()
			}
		}
	})
}

// TestAllocsIndependentOfSize: reading allocates per file, not per mutation.
func TestAllocsIndependentOfSize(t *testing.T) {
	allocs := func(n int) float64 {
		dir := makeLog(t, n, 0)
		return testing.AllocsPerRun(3, func() {
			r, err := walreader.Open([]string{dir}, walreader.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for {
				_, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got++
			}
			r.Close()
			// A read that failed early would allocate little for any size.
			if got != n {
				t.Fatalf("read %d mutations, want %d", got, n)
			}
		})
	}
	small, big := allocs(30), allocs(3000)
	if big > small+2 {
		t.Errorf("%v allocations for 3000 mutations, %v for 30", big, small)
	}
}
