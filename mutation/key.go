package mutation

import (
	"encoding/binary"
	"fmt"
	"hash/crc64"
)

// crcPoly is Pegasus's CRC-64 polynomial in reflected form (storage.md
// §3.2); hash/crc64 applies the all-ones init and final xor that
// dsn::utils::crc64_calc(…, 0) uses.
const crcPoly = 0x9A6C9329AC4BC9B5

// crcTable is built once and only ever read.
var crcTable = crc64.MakeTable(crcPoly)

// MaxHashKeyLen is the longest hash key a raw key can hold: the length must
// be < 65535 (storage.md §3.1).
const MaxHashKeyLen = 65534

// CRC64 is dsn::utils::crc64_calc(b, len(b), 0) (storage.md §3.2).
func CRC64(b []byte) uint64 { return crc64.Checksum(b, crcTable) }

// HashKeyHash is pegasus_hash_key_hash: the CRC-64 of the hash key
// (storage.md §3.3). It routes hash-key-wide writes (MULTI_PUT,
// MULTI_REMOVE, CHECK_AND_SET, CHECK_AND_MUTATE).
func HashKeyHash(hashKey []byte) uint64 { return CRC64(hashKey) }

// KeyHash is pegasus_key_hash of a raw key (storage.md §3.3): the CRC-64 of
// the hash key, or of the sort key when the hash key is empty. Pegasus
// aborts on a key shorter than 2 bytes or whose hash-key length exceeds
// the key; KeyHash returns 0 for those (use KeyHashChecked to tell).
func KeyHash(rawKey []byte) uint64 {
	h, _ := KeyHashChecked(rawKey)
	return h
}

// KeyHashChecked is KeyHash that reports an invalid raw key (ErrBadKey)
// instead of hashing it as 0.
func KeyHashChecked(rawKey []byte) (uint64, error) {
	hashKey, sortKey, err := SplitRawKey(rawKey)
	if err != nil {
		return 0, err
	}
	if len(hashKey) == 0 {
		return CRC64(sortKey), nil
	}
	return CRC64(hashKey), nil
}

// Preallocated so that the hot path does not allocate even when failing on
// a bad key.
var (
	errShortKey       = fmt.Errorf("%w: shorter than 2 bytes", ErrBadKey)
	errHashKeyOverrun = fmt.Errorf("%w: hash-key length exceeds the key", ErrBadKey)
)

// PartitionIndex is hash mod count with hash unsigned (storage.md §3.4,
// wire.md §6.2); -1 when count ≤ 0.
func PartitionIndex(hash uint64, count int) int {
	if count <= 0 {
		return -1
	}
	return int(hash % uint64(count))
}

// CheckHashKey reports ErrHashKeyTooLong for a hash key that a raw key
// cannot hold.
func CheckHashKey(hashKey []byte) error {
	if len(hashKey) > MaxHashKeyLen {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrHashKeyTooLong, len(hashKey), MaxHashKeyLen)
	}
	return nil
}

// AppendRawKey appends the raw key u16-BE(len(hashKey)) ‖ hashKey ‖ sortKey
// (storage.md §3.1). The hash key must pass CheckHashKey; a longer one
// gives a key whose length prefix is wrong.
func AppendRawKey(dst, hashKey, sortKey []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(hashKey)))
	dst = append(dst, hashKey...)
	return append(dst, sortKey...)
}

// SplitRawKey splits a raw key into sub-slices (hash key, sort key).
func SplitRawKey(raw []byte) (hashKey, sortKey []byte, err error) {
	if len(raw) < 2 {
		return nil, nil, errShortKey
	}
	n := int(binary.BigEndian.Uint16(raw))
	if n > len(raw)-2 {
		return nil, nil, errHashKeyOverrun
	}
	return raw[2 : 2+n : 2+n], raw[2+n:], nil
}
