package sst

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// externalProps are the properties SstFileWriter writes (bulk load):
// rocksdb.external_sst_file.version (fixed32 LE, 2) and
// rocksdb.external_sst_file.global_seqno (fixed64 LE), storage.md §5.5
// item 8.
func externalProps(globalSeqno uint64) []kv {
	return []kv{
		{[]byte("rocksdb.external_sst_file.global_seqno"), binary.LittleEndian.AppendUint64(nil, globalSeqno)},
		{[]byte("rocksdb.external_sst_file.version"), binary.LittleEndian.AppendUint32(nil, 2)},
	}
}

// ingested is a bulk-load table: every entry at sequence number 0.
func ingested(globalSeqno uint64) []byte {
	es := []kv{
		{ikey("\x00\x01ak", 0, KindValue), make([]byte, 12)},
		{ikey("\x00\x01bk", 0, KindValue), make([]byte, 12)},
	}
	return testTable{checksum: ChecksumCRC32c, extraProps: externalProps(globalSeqno)}.build(es)
}

// TestExternalTables: an ingested table whose global sequence number was
// written into it (write_global_seqno = true) takes that number; one
// without it is refused beside other tables (its order is only in the
// MANIFEST, which this package does not read) and read alone.
func TestExternalTables(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string][]byte
		wantErr string
		wantSeq uint64
	}{
		{"global seqno recorded", map[string][]byte{"000010.sst": ingested(77), "000009.sst": testTable{checksum: ChecksumCRC32c}.build(sampleEntries(3))}, "", 77},
		{"no global seqno, alone", map[string][]byte{"000010.sst": ingested(0)}, "", 0},
		{"no global seqno, beside another table", map[string][]byte{"000010.sst": ingested(0), "000009.sst": testTable{checksum: ChecksumCRC32c}.build(sampleEntries(3))}, "bulk-load table without a global sequence number", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := OpenCheckpoint(dir)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "000010.sst") {
					t.Fatalf("got %v, want ErrUnsupported naming 000010.sst: %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var ext *Table
			for _, tab := range c.Data {
				if tab.Properties().External {
					ext = tab
				}
			}
			it := ext.NewIter()
			defer it.Close()
			n := 0
			for ; it.Next(); n++ {
				if it.Seq() != tc.wantSeq {
					t.Fatalf("entry %x at seq %d, want %d", it.Key(), it.Seq(), tc.wantSeq)
				}
			}
			if it.Err() != nil || n != 2 {
				t.Fatalf("%d entries, %v", n, it.Err())
			}
		})
	}
}
