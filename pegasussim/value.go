package pegasussim

import (
	"encoding/binary"
	"hash/crc64"
	"time"
)

// The simulator keeps its own small implementations of the key and value
// formats so that it is an independent check of the product's packages.

// EpochBegin is Pegasus's expiry epoch, 2016-01-01T00:00:00Z (storage.md §4.3).
const EpochBegin = 1451606400

// crcTable is Pegasus's CRC-64 (storage.md §3.2).
var crcTable = crc64.MakeTable(0x9A6C9329AC4BC9B5)

// hashOf is crc64 of b.
func hashOf(b []byte) uint64 { return crc64.Checksum(b, crcTable) }

// rawKey builds hash_key_len(u16 BE) ‖ hash_key ‖ sort_key (storage.md §3.1).
func rawKey(hk, sk []byte) []byte {
	b := make([]byte, 2, 2+len(hk)+len(sk))
	binary.BigEndian.PutUint16(b, uint16(len(hk)))
	b = append(b, hk...)
	return append(b, sk...)
}

// splitRawKey splits a raw key; ok is false when it is shorter than its
// hash-key length says.
func splitRawKey(raw []byte) (hk, sk []byte, ok bool) {
	if len(raw) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(raw))
	if 2+n > len(raw) {
		return nil, nil, false
	}
	return raw[2 : 2+n], raw[2+n:], true
}

// keyHash is pegasus_key_hash (storage.md §3.3): crc64 of the hash key, or of
// the sort key when the hash key is empty. Keys shorter than their own
// hash-key length hash as crc64 of everything after the prefix.
func keyHash(raw []byte) uint64 {
	if len(raw) < 2 {
		return 0
	}
	n := int(binary.BigEndian.Uint16(raw))
	if n > 0 && 2+n <= len(raw) {
		return hashOf(raw[2 : 2+n])
	}
	return hashOf(raw[2:])
}

// partitionOf is hash % count as an unsigned division (storage.md §3.4).
func partitionOf(hash uint64, count int) int { return int(hash % uint64(count)) }

// Timetag builds timestamp_us<<8 | cluster_id<<1 | deleted (duplication.md §4.3).
func Timetag(timestampUs uint64, clusterID uint8, deleted bool) uint64 {
	t := timestampUs<<8 | uint64(clusterID&0x7f)<<1
	if deleted {
		t |= 1
	}
	return t
}

// SplitTimetag is the inverse of Timetag.
func SplitTimetag(t uint64) (timestampUs uint64, clusterID uint8, deleted bool) {
	return t >> 8, uint8(t>>1) & 0x7f, t&1 == 1
}

// valueV1 encodes expire_ts ‖ timetag ‖ user data (value schema v1,
// storage.md §4.1).
func valueV1(user []byte, expireTs uint32, timetag uint64) []byte {
	b := make([]byte, 12+len(user))
	binary.BigEndian.PutUint32(b, expireTs)
	binary.BigEndian.PutUint64(b[4:], timetag)
	copy(b[12:], user)
	return b
}

// v1 accessors; stored values are always at least 12 bytes.
func v1Expire(v []byte) uint32  { return binary.BigEndian.Uint32(v) }
func v1Timetag(v []byte) uint64 { return binary.BigEndian.Uint64(v[4:]) }
func v1User(v []byte) []byte    { return v[12:] }

// epochNow is seconds since EpochBegin.
func epochNow(now time.Time) uint32 {
	s := now.Unix() - EpochBegin
	if s < 0 {
		return 0
	}
	return uint32(s)
}

// expired is check_if_record_expired (storage.md §4.3).
func expired(expireTs, epochNow uint32) bool { return expireTs > 0 && expireTs <= epochNow }
