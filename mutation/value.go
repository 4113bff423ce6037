package mutation

import (
	"encoding/binary"
	"fmt"
)

// EpochBegin is Pegasus's epoch for expire_ts, 2016-01-01T00:00:00Z in Unix
// seconds (storage.md §4.3).
const EpochBegin = 1451606400

// Value schema versions (storage.md §4.1).
const (
	ValueV0 = 0 // expire_ts ‖ user data
	ValueV1 = 1 // expire_ts ‖ timetag ‖ user data
	ValueV2 = 2 // 0x82 ‖ expire_ts ‖ timetag ‖ user data
)

// Timetag composes timestamp_us << 8 | cluster_id << 1 | deleted
// (storage.md §4.4, duplication.md §4.3). The timestamp keeps its low 56
// bits and the cluster id its low 7.
func Timetag(timestampUs uint64, clusterID uint8, deleted bool) uint64 {
	t := timestampUs<<8 | uint64(clusterID&0x7f)<<1
	if deleted {
		t |= 1
	}
	return t
}

// SplitTimetag is the inverse of Timetag.
func SplitTimetag(t uint64) (timestampUs uint64, clusterID uint8, deleted bool) {
	return (t >> 8) & 0x00FFFFFFFFFFFFFF, uint8(t>>1) & 0x7f, t&1 == 1
}

// Value is a decoded RocksDB value (storage.md §4). UserData aliases the
// input.
type Value struct {
	Version  int
	ExpireTs uint32 // seconds since EpochBegin; 0 = never
	Timetag  uint64 // 0 in v0
	UserData []byte
}

// AppendValue appends the value envelope of the given schema version
// (storage.md §4.1); v0 drops the timetag. Unknown versions are an error.
func AppendValue(dst []byte, version int, expireTs uint32, timetag uint64, userData []byte) ([]byte, error) {
	switch version {
	case ValueV0:
		dst = binary.BigEndian.AppendUint32(dst, expireTs)
	case ValueV1:
		dst = binary.BigEndian.AppendUint32(dst, expireTs)
		dst = binary.BigEndian.AppendUint64(dst, timetag)
	case ValueV2:
		dst = append(dst, 0x80|ValueV2)
		dst = binary.BigEndian.AppendUint32(dst, expireTs)
		dst = binary.BigEndian.AppendUint64(dst, timetag)
	default:
		return dst, fmt.Errorf("%w: unknown value schema version %d", ErrBadValue, version)
	}
	return append(dst, userData...), nil
}

// ParseValue decodes a value as Pegasus's value_schema_manager does
// (storage.md §4.2, src/base/value_schema_manager.cpp): a first byte with
// the top bit set names the version itself (first_byte & 0x7F; a version
// above 2 falls back to the latest, 2); otherwise dataVersion (the meta CF's
// pegasus_data_version, 0 or 1) applies, and an unknown one is an error.
func ParseValue(b []byte, dataVersion int) (Value, error) {
	v := dataVersion
	if len(b) > 0 && b[0]&0x80 != 0 {
		v = min(int(b[0]&0x7f), ValueV2)
	}
	switch v {
	case ValueV0:
		if len(b) < 4 {
			return Value{}, fmt.Errorf("%w: v0 value of %d bytes", ErrBadValue, len(b))
		}
		return Value{Version: v, ExpireTs: binary.BigEndian.Uint32(b), UserData: b[4:]}, nil
	case ValueV1:
		if len(b) < 12 {
			return Value{}, fmt.Errorf("%w: v1 value of %d bytes", ErrBadValue, len(b))
		}
		return Value{Version: v, ExpireTs: binary.BigEndian.Uint32(b), Timetag: binary.BigEndian.Uint64(b[4:]), UserData: b[12:]}, nil
	case ValueV2:
		if len(b) < 13 {
			return Value{}, fmt.Errorf("%w: v2 value of %d bytes", ErrBadValue, len(b))
		}
		return Value{Version: v, ExpireTs: binary.BigEndian.Uint32(b[1:]), Timetag: binary.BigEndian.Uint64(b[5:]), UserData: b[13:]}, nil
	}
	return Value{}, fmt.Errorf("%w: unknown value schema version %d", ErrBadValue, v)
}

// ExpireTsFromUnix converts an absolute Unix time in seconds to expire_ts
// (storage.md §4.3). Times at or before EpochBegin give 0, which means
// "never expires"; a caller wanting "already expired" must use 1.
func ExpireTsFromUnix(unix int64) uint32 {
	if unix <= EpochBegin {
		return 0
	}
	return uint32(unix - EpochBegin)
}

// Expired reports whether a record with expire_ts is expired at nowUnix
// (storage.md §4.3: expire_ts > 0 && expire_ts <= now - EpochBegin).
func Expired(expireTs uint32, nowUnix int64) bool {
	return expireTs > 0 && int64(expireTs) <= nowUnix-EpochBegin
}
