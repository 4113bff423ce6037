package sst

import (
	"bytes"
	"errors"
	"testing"
)

// TestBuiltTables round-trips hand-built tables of every compression and
// checksum this package decodes (no rocksdb-tools needed).
func TestBuiltTables(t *testing.T) {
	entries := sampleEntries(100)
	for _, c := range []Compression{CompressionNone, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		for _, sum := range []ChecksumType{ChecksumNone, ChecksumCRC32c, ChecksumXXHash64, ChecksumXXH3} {
			t.Run(c.String()+"-"+sum.String(), func(t *testing.T) {
				b := testTable{checksum: sum, compression: c}.build(entries)
				tab, err := OpenReader("built.sst", bytes.NewReader(b), int64(len(b)))
				if err != nil {
					t.Fatal(err)
				}
				it := tab.NewIter()
				defer it.Close()
				i := 0
				for ; it.Next(); i++ {
					want := entries[i]
					if !bytes.Equal(it.Key(), want.key[:len(want.key)-8]) || !bytes.Equal(it.Value(), want.value) ||
						it.Seq() != uint64(1000+i) || it.Kind().IsDeletion() != (i%5 == 4) {
						t.Fatalf("entry %d: %x seq %d kind %d = %x", i, it.Key(), it.Seq(), it.Kind(), it.Value())
					}
				}
				if it.Err() != nil || i != len(entries) {
					t.Fatalf("%d entries, err %v", i, it.Err())
				}
			})
		}
	}
}

// TestCorruptTables: every damage gives an ErrCorrupt *FileError naming
// the file and the offset of the block at fault; never a panic.
func TestCorruptTables(t *testing.T) {
	good := testTable{checksum: ChecksumCRC32c, compression: CompressionLZ4}.build(sampleEntries(100))
	flip := func(off int) []byte {
		b := bytes.Clone(good)
		b[off] ^= 0x40
		return b
	}
	tests := []struct {
		name    string
		file    []byte
		atIter  bool  // the error shows while iterating, not at open
		offset  int64 // want FileError.Offset
		message string
	}{
		{"flipped byte in the first data block", flip(10), true, 0, "checksum mismatch"},
		{"flipped byte in a data block trailer", flip(int(firstBlockSize(good))), true, 0, "checksum mismatch"},
		{"bad magic", flip(len(good) - 1), false, int64(len(good) - 8), "bad magic"},
		{"truncated to half", good[:len(good)/2], false, int64(len(good)/2 - 8), "bad magic"},
		{"truncated footer", good[:30], false, 0, "shorter than a footer"},
		{"empty file", nil, false, 0, "shorter than a footer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := readTable(tc.file, tc.atIter)
			var fe *FileError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &fe) {
				t.Fatalf("got %v, want an ErrCorrupt FileError", err)
			}
			if fe.File != "bad.sst" || fe.Offset != tc.offset || !bytes.Contains([]byte(err.Error()), []byte(tc.message)) {
				t.Fatalf("got %q (offset %d), want file bad.sst, offset %d, %q", err, fe.Offset, tc.offset, tc.message)
			}
		})
	}
}

// readTable opens b and reads it through; it reports whether the error
// came at open or during the iteration.
func readTable(b []byte, wantAtIter bool) error {
	tab, err := OpenReader("bad.sst", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		if wantAtIter {
			return errors.Join(errors.New("failed at open, not while iterating"), err)
		}
		return err
	}
	it := tab.NewIter()
	defer it.Close()
	for it.Next() {
	}
	if it.Err() == nil {
		return errors.New("no error")
	}
	return it.Err()
}

// firstBlockSize reads the size of the first data block from the index.
func firstBlockSize(file []byte) uint64 {
	tab, err := OpenReader("x", bytes.NewReader(file), int64(len(file)))
	if err != nil {
		panic(err)
	}
	var it blockIter
	if err := it.init("x", 0, tab.index, tab.mode); err != nil || !it.next() {
		panic("no index entry")
	}
	return it.h.size
}
