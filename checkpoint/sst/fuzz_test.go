package sst

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// Kept seed corpus: testdata/fuzz/Fuzz*/ (written by TestWriteFuzzCorpus
// with SST_WRITE_CORPUS=1) holds tables built by builder_test.go in every
// compression and checksum, their footers and blocks. The fuzzers must
// never panic, hang or allocate beyond the block cap; errors are fine.

func seedTables() [][]byte {
	var out [][]byte
	for _, c := range []Compression{CompressionNone, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		for _, sum := range []ChecksumType{ChecksumNone, ChecksumCRC32c, ChecksumXXH3} {
			out = append(out, testTable{checksum: sum, compression: c, perBlock: 4}.build(sampleEntries(12)))
		}
	}
	return out
}

// FuzzTable opens arbitrary bytes as a table and reads every entry.
func FuzzTable(f *testing.F) {
	for _, s := range seedTables() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := OpenReader("fuzz.sst", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		it := tab.NewIter()
		defer it.Close()
		for n := 0; it.Next(); n++ {
			if n > len(b) { // every entry takes at least one byte of some block
				t.Fatalf("%d entries from %d bytes", n, len(b))
			}
		}
	})
}

// FuzzBlock decodes arbitrary bytes as a data, index or delta-encoded index
// block.
func FuzzBlock(f *testing.F) {
	f.Add(blockBytes(sampleEntries(20), 4), byte(0))
	f.Add(blockBytes([]kv{{[]byte("k1"), appendHandle(nil, handle{0, 100})}, {[]byte("k2"), appendHandle(nil, handle{105, 80})}}, 1), byte(1))
	// A delta-encoded index (format_version ≥ 4): a full handle at the
	// restart, then a zigzag size delta, no value lengths.
	delta := []byte{0, 2, 'k', '1'}
	delta = appendHandle(delta, handle{0, 100})
	delta = append(delta, 1, 1, '2')
	delta = binary.AppendVarint(delta, -20)
	delta = binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(delta, 0), 1)
	f.Add(delta, byte(2))
	f.Fuzz(func(t *testing.T, b []byte, mode byte) {
		var it blockIter
		m := indexMode{isIndex: mode&1 != 0, delta: mode&2 != 0, firstKey: mode&4 != 0}
		m.isIndex = m.isIndex || m.delta
		if it.init("fuzz", 0, b, m) != nil {
			return
		}
		for n := 0; it.next(); n++ {
			if n > len(b) {
				t.Fatalf("%d entries from a block of %d bytes", n, len(b))
			}
		}
	})
}

// FuzzFooter decodes arbitrary bytes as the tail of a file.
func FuzzFooter(f *testing.F) {
	for _, s := range seedTables()[:3] {
		f.Add(s[len(s)-footerLen:], int64(len(s)))
	}
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		ft, err := parseFooter("fuzz", b, size)
		if err != nil {
			return
		}
		if ft.index.off+ft.index.size > uint64(size) || ft.metaindex.off+ft.metaindex.size > uint64(size) {
			t.Fatalf("accepted handles beyond a file of %d bytes: %+v", size, ft)
		}
	})
}

// TestWriteFuzzCorpus (re)writes the kept seed corpus when
// SST_WRITE_CORPUS=1; otherwise it checks that the corpus is there.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz")
	if os.Getenv("SST_WRITE_CORPUS") != "1" {
		for _, name := range []string{"FuzzTable", "FuzzBlock", "FuzzFooter", "FuzzManifest"} {
			if ents, err := os.ReadDir(filepath.Join(dir, name)); err != nil || len(ents) == 0 {
				t.Errorf("no kept seed corpus for %s: run SST_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus", name)
			}
		}
		return
	}
	write := func(name string, i int, vals ...any) {
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n")
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			case byte:
				fmt.Fprintf(&b, "byte(%q)\n", v)
			case int64:
				fmt.Fprintf(&b, "int64(%d)\n", v)
			}
		}
		p := filepath.Join(dir, name, fmt.Sprintf("seed%02d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tables := seedTables()
	for i, s := range tables {
		write("FuzzTable", i, s)
		write("FuzzFooter", i, s[len(s)-footerLen:], int64(len(s)))
	}
	write("FuzzBlock", 0, blockBytes(sampleEntries(20), 4), byte(0))
	write("FuzzBlock", 1, blockBytes(sampleEntries(6), 1), byte(1))
	write("FuzzManifest", 0, seedManifest())
}

// logRecord frames payload as one full record of a RocksDB log file.
func logRecord(payload []byte) []byte {
	typ := []byte{logFull}
	c := crc32.Update(crc32.Update(0, castagnoli, typ), castagnoli, payload)
	h := binary.LittleEndian.AppendUint32(nil, ((c>>15)|(c<<17))+crcMaskDelta)
	h = binary.LittleEndian.AppendUint16(h, uint16(len(payload)))
	return append(append(h, logFull), payload...)
}

// seedManifest is a MANIFEST of two edits: comparator and column family,
// then a table added in the newest form (kNewFile4 with two custom fields)
// and another deleted.
func seedManifest() []byte {
	var e1 []byte
	e1 = binary.AppendUvarint(e1, tagComparator)
	e1 = binary.AppendUvarint(e1, uint64(len("leveldb.BytewiseComparator")))
	e1 = append(e1, "leveldb.BytewiseComparator"...)
	e1 = binary.AppendUvarint(binary.AppendUvarint(e1, tagColumnFamily), 0)
	var e2 []byte
	e2 = binary.AppendUvarint(e2, tagNewFile4)
	for _, v := range []uint64{0, 18, 415} { // level, number, size
		e2 = binary.AppendUvarint(e2, v)
	}
	for _, k := range []string{"ak\x01\x03\x00\x00\x00\x00\x00\x00", "bk\x01\x03\x00\x00\x00\x00\x00\x00"} {
		e2 = append(binary.AppendUvarint(e2, uint64(len(k))), k...)
	}
	e2 = binary.AppendUvarint(binary.AppendUvarint(e2, 3), 3) // seqno range
	e2 = append(binary.AppendUvarint(binary.AppendUvarint(e2, 5), 2), 0x81, 0x01)
	e2 = binary.AppendUvarint(e2, newFileCustomTerminate)
	e2 = binary.AppendUvarint(binary.AppendUvarint(binary.AppendUvarint(e2, tagDeletedFile), 0), 13)
	e2 = binary.AppendUvarint(binary.AppendUvarint(e2, tagLastSequence), 3)
	return append(logRecord(e1), logRecord(e2)...)
}

func TestManifestSeed(t *testing.T) {
	files := map[uint64]seqRange{13: {1, 1}}
	err := logRecords("m", seedManifest(), func(off int64, rec []byte) error { return applyEdit("m", off, rec, files) })
	if err != nil || len(files) != 1 || files[18] != (seqRange{3, 3}) {
		t.Fatalf("files %v, err %v; want only 18 at 3..3", files, err)
	}
}

// FuzzManifest decodes arbitrary bytes as a MANIFEST.
func FuzzManifest(f *testing.F) {
	f.Add(seedManifest())
	f.Fuzz(func(t *testing.T, b []byte) {
		files := map[uint64]seqRange{}
		_ = logRecords("fuzz", b, func(off int64, rec []byte) error { return applyEdit("fuzz", off, rec, files) })
	})
}
