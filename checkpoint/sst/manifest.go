package sst

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
)

// The MANIFEST is only read for one fact a table does not hold itself:
// the sequence number RocksDB gave a bulk-load table it ingested with
// write_global_seqno = false (storage.md §5.5 item 9). Its format: the
// RocksDB log format (32 KiB blocks of records, each with a 7-byte header
// masked CRC-32C ‖ length u16 LE ‖ type) carrying VersionEdits
// (RocksDB db/version_edit.{h,cc}, db/log_format.h).

const (
	logBlockSize    = 32 << 10
	logHeaderLen    = 7
	logFull         = 1
	logFirst        = 2
	logMiddle       = 3
	logLast         = 4
	maxManifestSize = 1 << 30
)

// VersionEdit tags (db/version_edit.h).
const (
	tagComparator          = 1
	tagLogNumber           = 2
	tagNextFileNumber      = 3
	tagLastSequence        = 4
	tagCompactCursor       = 5
	tagDeletedFile         = 6
	tagNewFile             = 7
	tagPrevLogNumber       = 9
	tagMinLogNumberToKeep  = 10
	tagNewFile2            = 100
	tagNewFile3            = 102
	tagNewFile4            = 103
	tagColumnFamily        = 200
	tagColumnFamilyAdd     = 201
	tagColumnFamilyDrop    = 202
	tagMaxColumnFamily     = 203
	tagInAtomicGroup       = 300
	tagSafeIgnoreMask      = 1 << 13 // tags with this bit carry a length-prefixed value a reader may skip
	newFileCustomTerminate = 1
)

// seqRange is a live table's sequence numbers as the MANIFEST records them.
type seqRange struct{ smallest, largest uint64 }

// manifestSeqnos reads the MANIFEST that dir's CURRENT names and returns
// the sequence range of every live table by file number.
func manifestSeqnos(dir string) (map[uint64]seqRange, error) {
	cur, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if err != nil {
		return nil, fmt.Errorf("sst: reading the checkpoint's CURRENT: %w", err)
	}
	name := strings.TrimSpace(string(cur))
	if !strings.HasPrefix(name, "MANIFEST-") || strings.ContainsAny(name, "/\\") {
		return nil, corruptf(filepath.Join(dir, "CURRENT"), 0, "names %q, not a MANIFEST", name)
	}
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sst: reading the MANIFEST: %w", err)
	}
	files := map[uint64]seqRange{}
	err = logRecords(path, b, func(off int64, rec []byte) error {
		return applyEdit(path, off, rec, files)
	})
	return files, err
}

// logRecords calls fn with every record of a RocksDB log file, fragments
// joined, each checked against its CRC.
func logRecords(path string, b []byte, fn func(off int64, rec []byte) error) error {
	var rec []byte
	inRecord, recOff := false, int64(0)
	for off := 0; off < len(b); {
		left := logBlockSize - off%logBlockSize
		if left < logHeaderLen { // block trailer: zero padding
			off += left
			continue
		}
		if len(b)-off < logHeaderLen {
			return corruptf(path, int64(off), "truncated log record header")
		}
		h := b[off : off+logHeaderLen]
		n, typ := int(binary.LittleEndian.Uint16(h[4:])), h[6]
		if typ == 0 && n == 0 { // preallocated zeros
			off += left
			continue
		}
		if n > left-logHeaderLen || off+logHeaderLen+n > len(b) {
			return corruptf(path, int64(off), "log record of %d bytes runs past its block", n)
		}
		payload := b[off+logHeaderLen : off+logHeaderLen+n]
		c := crc32.Update(crc32.Update(0, castagnoli, h[6:7]), castagnoli, payload)
		if ((c>>15)|(c<<17))+crcMaskDelta != binary.LittleEndian.Uint32(h) {
			return corruptf(path, int64(off), "log record checksum mismatch")
		}
		switch typ {
		case logFull, logFirst:
			if inRecord {
				return corruptf(path, int64(off), "log record starts inside another")
			}
			rec, recOff, inRecord = append(rec[:0], payload...), int64(off), true
		case logMiddle, logLast:
			if !inRecord {
				return corruptf(path, int64(off), "log record fragment without a start")
			}
			rec = append(rec, payload...)
		default:
			return unsupportedf(path, int64(off), "log record type %d", typ)
		}
		off += logHeaderLen + n
		if typ == logFull || typ == logLast {
			inRecord = false
			if err := fn(recOff, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// editReader decodes the fields of one VersionEdit.
type editReader struct {
	b   []byte
	bad bool
}

func (r *editReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *editReader) bytes() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// applyEdit records the table additions and deletions of one VersionEdit.
// File numbers are unique across column families, so one map serves all.
func applyEdit(path string, off int64, rec []byte, files map[uint64]seqRange) error {
	r := &editReader{b: rec}
	for len(r.b) > 0 && !r.bad {
		switch tag := r.uvarint(); tag {
		case tagComparator, tagColumnFamilyAdd:
			r.bytes()
		case tagLogNumber, tagNextFileNumber, tagLastSequence, tagPrevLogNumber, tagMinLogNumberToKeep,
			tagColumnFamily, tagMaxColumnFamily, tagInAtomicGroup:
			r.uvarint()
		case tagColumnFamilyDrop:
		case tagCompactCursor:
			r.uvarint()
			r.bytes()
		case tagDeletedFile:
			r.uvarint()
			delete(files, r.uvarint())
		case tagNewFile, tagNewFile2, tagNewFile3, tagNewFile4:
			num, sr := readNewFile(r, tag)
			files[num] = sr
		default:
			if tag&tagSafeIgnoreMask == 0 {
				return unsupportedf(path, off, "MANIFEST record with VersionEdit tag %d", tag)
			}
			r.bytes()
		}
	}
	if r.bad {
		return corruptf(path, off, "malformed VersionEdit")
	}
	return nil
}

// readNewFile decodes an added table: level, number, [path id], size,
// smallest and largest keys, then (all but the oldest form) the sequence
// range, then (form 4) custom fields up to the terminating tag.
func readNewFile(r *editReader, tag uint64) (uint64, seqRange) {
	r.uvarint() // level
	num := r.uvarint()
	if tag == tagNewFile3 {
		r.uvarint() // path id
	}
	r.uvarint() // file size
	r.bytes()   // smallest key
	r.bytes()   // largest key
	var sr seqRange
	if tag != tagNewFile {
		sr.smallest, sr.largest = r.uvarint(), r.uvarint()
	}
	if tag == tagNewFile4 {
		for !r.bad && r.uvarint() != newFileCustomTerminate {
			r.bytes()
		}
	}
	return num, sr
}
