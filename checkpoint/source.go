package checkpoint

import (
	"bytes"
	"slices"
)

// Record is one live key of a checkpoint: the newest version of a raw key,
// not deleted, its value split by the value schema (storage.md §4).
type Record struct {
	Key      []byte // raw key: hash_key_len ‖ hash_key ‖ sort_key (storage.md §3.1)
	Value    []byte // user data
	ExpireTs uint32 // seconds since 2016-01-01; 0 = never
	Timetag  uint64 // timestamp_us << 8 | cluster_id << 1; 0 for schema v0
}

// Source yields one master partition's records in raw-key order. Slices of
// a Record may be reused by the next call to Next.
type Source interface {
	// Next fills r with the next record; false at the end or on error.
	Next(r *Record) bool
	// Err is the error that ended the iteration, nil at a clean end.
	Err() error
	Close() error
}

// Opener opens the records of the staged checkpoint of one master
// partition: dir is its staging subdirectory (PartitionDir), partition and
// count say which keys belong to it, for partitions that were split
// (storage.md §3.4). after, when not nil, is the last key a previous run
// loaded: the source may start past it (Load skips keys up to it anyway).
type Opener func(dir string, partition, count int, after []byte) (Source, error)

// MemorySource is a Source over records held in memory, sorted by key on
// creation: for tests and for callers that already hold the records.
type MemorySource struct {
	recs []Record
	i    int
}

// NewMemorySource returns a Source over a copy of recs, sorted by key.
func NewMemorySource(recs []Record) *MemorySource {
	s := &MemorySource{recs: slices.Clone(recs)}
	byKey := func(a, b Record) int { return bytes.Compare(a.Key, b.Key) }
	if !slices.IsSortedFunc(s.recs, byKey) {
		slices.SortFunc(s.recs, byKey)
	}
	return s
}

// Next implements Source.
func (s *MemorySource) Next(r *Record) bool {
	if s.i >= len(s.recs) {
		return false
	}
	*r = s.recs[s.i]
	s.i++
	return true
}

// Err implements Source; a MemorySource never fails.
func (s *MemorySource) Err() error { return nil }

// Close implements Source.
func (s *MemorySource) Close() error { return nil }
