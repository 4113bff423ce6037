package sst

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/internal/sstgen"
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
// without it needs the MANIFEST beside other tables (here there is none)
// and is read alone at sequence number 0.
func TestExternalTables(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string][]byte
		wantErr string
		wantSeq uint64
	}{
		{"global seqno recorded", map[string][]byte{"000010.sst": ingested(77), "000009.sst": testTable{checksum: ChecksumCRC32c}.build(sampleEntries(3))}, "", 77},
		{"no global seqno, alone", map[string][]byte{"000010.sst": ingested(0)}, "", 0},
		{"no global seqno, beside another table", map[string][]byte{"000010.sst": ingested(0), "000009.sst": testTable{checksum: ChecksumCRC32c}.build(sampleEntries(3))}, "need their sequence numbers from the MANIFEST", 0},
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
				if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want a missing CURRENT: %s", err, tc.wantErr)
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

// TestIngestedRealCheckpoint ingests a bulk-load table into a real DB
// (ldb ingest_extern_sst) between ordinary writes, with and without
// write_global_seqno, and checks that the merge orders it by the sequence
// number RocksDB gave it: the table's own property when written in place
// (RocksDB then leaves the properties block checksum stale, which must be
// accepted as RocksDB does), else the MANIFEST's record. The ingested
// table overwrites an older key; a later write overwrites an ingested one.
func TestIngestedRealCheckpoint(t *testing.T) {
	v := func(s string) []byte { return append(make([]byte, 12), s...) }
	ext := filepath.Join(t.TempDir(), "bulk.sst")
	es := []kv{
		{ikey("\x00\x01ak", 0, KindValue), v("bulk")},
		{ikey("\x00\x01bk", 0, KindValue), v("bulk")},
		{ikey("\x00\x01ck", 0, KindValue), v("bulk")},
	}
	if err := os.WriteFile(ext, testTable{checksum: ChecksumCRC32c, extraProps: externalProps(0)}.build(es), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, write := range []bool{false, true} {
		t.Run(fmt.Sprintf("write_global_seqno=%v", write), func(t *testing.T) {
			batches := [][]sstgen.Op{
				{{Key: []byte("\x00\x01ak"), Value: v("old")}, {Key: []byte("\x00\x01zk"), Value: v("old")}},
				{{IngestFile: ext, WriteGlobalSeqno: write}},
				{{Key: []byte("\x00\x01ck"), Value: v("new")}},
			}
			dir, err := sstgen.Build(t, t.TempDir(), sstgen.Options{Compression: "none", Checksum: "crc32c", FormatVersion: 2}, 1, batches)
			if err != nil {
				t.Fatal(err)
			}
			c, err := OpenCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			l := c.Live(LiveOptions{})
			defer l.Close()
			var got []string
			for l.Next() {
				got = append(got, string(l.SortKey())+string(l.HashKey())+"="+string(l.UserData()))
			}
			want := "ka=bulk kb=bulk kc=new kz=old"
			if l.Err() != nil || strings.Join(got, " ") != want {
				t.Fatalf("got %q, %v; want %q", got, l.Err(), want)
			}
		})
	}
}
