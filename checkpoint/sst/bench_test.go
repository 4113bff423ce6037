package sst_test

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/dupbridge/dupbridge/checkpoint/sst"
	"github.com/dupbridge/dupbridge/internal/sstgen"
)

// benchTables are the scan benchmark's inputs: one table of 200,000
// Pegasus keys (values of up to 200 bytes) per compression, written by
// ldb with the options of the Pegasus release that writes them: LZ4 as
// Pegasus ≤ 2.5 writes its L2+ files (format_version 2, CRC32c), Zstd
// with master's format_version 5 and XXH3.
var benchTables = []sstgen.Options{
	{Compression: "lz4", Checksum: "crc32c", FormatVersion: 2},
	{Compression: "zstd", Checksum: "xxh3", FormatVersion: 5},
}

func benchTable(b *testing.B, o sstgen.Options) string {
	b.Helper()
	spec := sstgen.Spec{Seed: 1, Keys: 200000, Batches: 1, DataVersion: 1, Now: genNow.Unix(), ValueLen: 200}
	dir, err := sstgen.BuildCached(b, fmt.Sprintf("bench-%s-%d-%d", o.Name(), spec.Keys, spec.ValueLen), o, 1,
		func() [][]sstgen.Op { return sstgen.Generate(spec).Batches })
	if err != nil {
		b.Fatal(err)
	}
	files, err := sstgen.SSTs(dir)
	if err != nil {
		b.Fatal(err)
	}
	best, size := "", int64(0)
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() > size {
			best, size = f, st.Size()
		}
	}
	return best
}

// BenchmarkSSTScan compares reading every entry of one table, checksums
// verified, with the C++ reference on the same file.
//
//   - ours: open the table and iterate all entries (user key, sequence,
//     kind, value), as Checkpoint.Live's inner loop does.
//   - baseline: `sst_dump --file=F --command=check --verify_checksum`,
//     output to /dev/null: RocksDB 7.8's own table reader opens the file and
//     reads every entry sequentially (SstFileDumper::ReadSequential) with
//     checksum verification, without printing them. It is timed as a whole
//     process, so it includes loading librocksdb (a few ms, measured on a
//     tiny table in BenchmarkSSTDumpStartup).
//
// BenchmarkSSTScanVsPrint pairs the same "ours" with what the issue names,
// `sst_dump --command=scan` to /dev/null, which also formats every entry.
func BenchmarkSSTScan(b *testing.B) {
	benchScan(b, "check", "--verify_checksum")
}

func BenchmarkSSTScanVsPrint(b *testing.B) {
	benchScan(b, "scan")
}

func benchScan(b *testing.B, command string, extra ...string) {
	sstDump := sstgen.SSTDump(b)
	for _, o := range benchTables {
		file := benchTable(b, o)
		st, err := os.Stat(file)
		if err != nil {
			b.Fatal(err)
		}
		entries := scanOnce(b, file)
		b.Run(o.Compression+"/ours", func(b *testing.B) {
			b.SetBytes(st.Size())
			b.ReportAllocs()
			for b.Loop() {
				if n := scanOnce(b, file); n != entries {
					b.Fatalf("%d entries, then %d", entries, n)
				}
			}
			b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
		b.Run(o.Compression+"/baseline", func(b *testing.B) {
			b.SetBytes(st.Size())
			args := append([]string{"--file=" + file, "--command=" + command}, extra...)
			for b.Loop() {
				cmd := exec.Command(sstDump, args...)
				if err := cmd.Run(); err != nil { // Stdout nil: /dev/null
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}

// BenchmarkSSTDumpStartup is sst_dump's fixed cost (process, librocksdb,
// open) on the smallest table of the bench checkpoint, for reading the
// ratios above.
func BenchmarkSSTDumpStartup(b *testing.B) {
	sstDump := sstgen.SSTDump(b)
	file := benchTable(b, benchTables[0])
	files, _ := sstgen.SSTs(file[:len(file)-len("/000000.sst")])
	for b.Loop() {
		if err := exec.Command(sstDump, "--file="+files[0], "--command=check", "--verify_checksum").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func scanOnce(b *testing.B, file string) int {
	t, err := sst.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	it := t.NewIter()
	defer it.Close()
	n := 0
	for it.Next() {
		n++
	}
	if err := it.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
