package walreader

import (
	"sort"

	"github.com/dupbridge/dupbridge/mutation"
)

// KindStats counts mutations (or updates) of one kind and their bytes.
type KindStats struct {
	Count int64
	Bytes int64
}

// PartitionStats summarises one partition's mutations.
type PartitionStats struct {
	AppID, PartitionIndex int32
	Mutations             int64
	Bytes                 int64 // encoded mutation bytes
	MinDecree, MaxDecree  int64
	MinTimestamp          int64 // µs
	MaxTimestamp          int64
	MaxLastCommitted      int64
	// ByKind counts mutations by write kind: the task-code name of their
	// update, or "BATCH(PUT/REMOVE)" for a mutation of several updates.
	ByKind map[string]*KindStats
	// Updates counts updates by task-code name (payload bytes).
	Updates map[string]*KindStats
}

// Stats accumulates what `dupbridge wal stat` prints.
type Stats struct {
	parts map[uint64]*PartitionStats
}

// BatchKind is the kind name of a mutation holding several updates.
const BatchKind = "BATCH(PUT/REMOVE)"

// Add counts m.
func (s *Stats) Add(m *Mutation) {
	if s.parts == nil {
		s.parts = map[uint64]*PartitionStats{}
	}
	k := gpidKey(m.AppID, m.PartitionIndex)
	p := s.parts[k]
	if p == nil {
		p = &PartitionStats{AppID: m.AppID, PartitionIndex: m.PartitionIndex, MinDecree: m.Decree, MaxDecree: m.Decree,
			MinTimestamp: m.Timestamp, MaxTimestamp: m.Timestamp, ByKind: map[string]*KindStats{}, Updates: map[string]*KindStats{}}
		s.parts[k] = p
	}
	p.Mutations++
	p.Bytes += int64(m.Size)
	p.MinDecree, p.MaxDecree = min(p.MinDecree, m.Decree), max(p.MaxDecree, m.Decree)
	p.MinTimestamp, p.MaxTimestamp = min(p.MinTimestamp, m.Timestamp), max(p.MaxTimestamp, m.Timestamp)
	p.MaxLastCommitted = max(p.MaxLastCommitted, m.LastCommittedDecree)
	kind := BatchKind
	if len(m.Updates) == 1 {
		kind = kindName(&m.Updates[0])
	} else if len(m.Updates) == 0 {
		kind = "NO_UPDATES"
	}
	ks := p.ByKind[kind]
	if ks == nil {
		ks = &KindStats{}
		p.ByKind[kind] = ks
	}
	ks.Count++
	ks.Bytes += int64(m.Size)
	for i := range m.Updates {
		u := &m.Updates[i]
		n := kindName(u)
		us := p.Updates[n]
		if us == nil {
			us = &KindStats{}
			p.Updates[n] = us
		}
		us.Count++
		us.Bytes += int64(len(u.Data))
	}
}

func kindName(u *Update) string {
	if u.Code != mutation.CodeUnknown {
		return u.Code.Name()
	}
	return string(u.Name)
}

// Partitions returns the per-partition statistics ordered by gpid.
func (s *Stats) Partitions() []*PartitionStats {
	out := make([]*PartitionStats, 0, len(s.parts))
	for _, p := range s.parts {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].AppID != out[j].AppID {
			return out[i].AppID < out[j].AppID
		}
		return out[i].PartitionIndex < out[j].PartitionIndex
	})
	return out
}
