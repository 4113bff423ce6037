package sst_test

import (
	"bytes"
	"testing"

	"github.com/dupbridge/dupbridge/checkpoint/sst"
	"github.com/dupbridge/dupbridge/internal/sstgen"
)

// TestMatchesSSTDump reads every table of every generated checkpoint and
// requires exactly the entries `sst_dump --command=scan --output_hex
// --verify_checksum` prints for it: same user keys, sequence numbers,
// kinds and values, in the same order.
//
// How sst_dump's output is parsed (sstgen.Scan): with --output_hex, each
// entry is one line `'USERKEY' seq:N, type:T => VALUE`, the user key and
// value in upper-case hex (RocksDB's ParsedInternalKey::DebugString(hex)
// and Slice::ToString(hex)); a deletion has an empty value. Lines not
// starting with a quote (the file name, "Sst file format: block-based",
// "from [] to []", "options.env is ...") are headers and skipped; any
// quoted line that does not match the pattern fails the test.
func TestMatchesSSTDump(t *testing.T) {
	for _, o := range matrix() {
		t.Run(o.Name(), func(t *testing.T) {
			dir, _ := build(t, o)
			files, err := sstgen.SSTs(dir)
			if err != nil || len(files) < 4 {
				t.Fatalf("want ≥ 4 tables (3 batches, meta CF), got %v, %v", files, err)
			}
			for _, f := range files {
				want, err := sstgen.Scan(t, f)
				if err != nil {
					t.Fatal(err)
				}
				got, props, blocks, compressed := readAll(t, f)
				if len(got) != len(want) {
					t.Fatalf("%s: %d entries, sst_dump printed %d", f, len(got), len(want))
				}
				for i := range want {
					w, g := want[i], got[i]
					if !bytes.Equal(w.Key, g.Key) || w.Seq != g.Seq || w.Kind != g.Kind || !bytes.Equal(w.Value, g.Value) {
						t.Fatalf("%s entry %d: got key %x seq %d kind %d value %x; sst_dump: key %x seq %d kind %d value %x",
							f, i, g.Key, g.Seq, g.Kind, g.Value, w.Key, w.Seq, w.Kind, w.Value)
					}
				}
				if props.FormatVersion != uint32(o.FormatVersion) {
					t.Errorf("%s: format_version %d, want %d", f, props.FormatVersion, o.FormatVersion)
				}
				if props.Checksum.String() != o.Checksum {
					t.Errorf("%s: checksum %s, want %s", f, props.Checksum, o.Checksum)
				}
				checkShape(t, f, o, props, blocks, compressed)
				if props.NumEntries != uint64(len(want)) {
					t.Errorf("%s: properties say %d entries, sst_dump printed %d", f, props.NumEntries, len(want))
				}
			}
		})
	}
}

// checkShape makes sure the generator produced what the test claims to
// cover: compressed blocks in the data CF of compressed tables (the meta CF
// is never compressed), the index type asked for.
func checkShape(t *testing.T, f string, o sstgen.Options, p sst.Properties, blocks, compressed int) {
	t.Helper()
	wantIndex := map[string]uint32{"": 0, "two_level": 2, "first_key": 3}[o.IndexType]
	if p.IndexType != wantIndex {
		t.Errorf("%s: index type %d, want %d", f, p.IndexType, wantIndex)
	}
	if p.ColumnFamily != sst.DataCF || p.NumEntries < 50 {
		return
	}
	if o.Compression == "none" && compressed != 0 || o.Compression != "none" && compressed == 0 {
		t.Errorf("%s: %d of %d blocks compressed with compression %s", f, compressed, blocks, o.Compression)
	}
	if o.IndexType == "two_level" && blocks <= int(p.NumDataBlocks) {
		t.Errorf("%s: read %d blocks for %d data blocks: no index partitions", f, blocks, p.NumDataBlocks)
	}
}

func readAll(t *testing.T, path string) ([]sstgen.Entry, sst.Properties, int, int) {
	t.Helper()
	tab, err := sst.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	it := tab.NewIter()
	defer it.Close()
	var es []sstgen.Entry
	for it.Next() {
		es = append(es, sstgen.Entry{
			Key: bytes.Clone(it.Key()), Seq: it.Seq(), Kind: uint8(it.Kind()), Value: bytes.Clone(it.Value()),
		})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	blocks, compressed := it.Blocks()
	return es, tab.Properties(), blocks, compressed
}
