package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// HeaderLen is the size of a record header: CRC-32C, length, LSN
// (docs/relay.md §1.2).
const HeaderLen = 16

// MaxPayload bounds one record's payload; a larger length field is
// corruption.
const MaxPayload = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by every error about damaged spool data.
var ErrCorrupt = errors.New("spool: corrupt")

// Reasons a record does not decode; Open tells a torn tail from corruption
// by where they occur.
var (
	errShort    = errors.New("record runs past the end of the data")
	errChecksum = errors.New("record checksum mismatch")
	errTooLarge = errors.New("record length above the limit")
)

// appendRecord appends the encoded record (header and payload) to dst.
func appendRecord(dst []byte, lsn uint64, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint64(dst, lsn)
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+4:], castagnoli))
	return dst
}

// recordLen is the encoded size of a record with n payload bytes.
func recordLen(n int) int { return HeaderLen + n }

// decodeRecord decodes the record at the start of b. payload aliases b. n is
// the record's encoded size. It never allocates and never trusts the length
// field beyond the limit and what b holds.
func decodeRecord(b []byte) (lsn uint64, payload []byte, n int, err error) {
	if len(b) < HeaderLen {
		return 0, nil, 0, errShort
	}
	size := binary.LittleEndian.Uint32(b[4:8])
	if size > MaxPayload {
		return 0, nil, 0, fmt.Errorf("%w: %d bytes", errTooLarge, size)
	}
	n = HeaderLen + int(size)
	if len(b) < n {
		return 0, nil, 0, errShort
	}
	if crc32.Checksum(b[4:n], castagnoli) != binary.LittleEndian.Uint32(b[0:4]) {
		return 0, nil, 0, errChecksum
	}
	return binary.LittleEndian.Uint64(b[8:16]), b[HeaderLen:n], n, nil
}

// allZero reports whether b holds only zero bytes (a preallocated or
// never-written tail).
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
