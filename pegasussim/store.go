package pegasussim

import (
	"slices"
	"sort"
)

// store is one partition's data: raw key → stored value (schema v1). Point
// operations use the map; ordered operations use a sorted key list that is
// rebuilt lazily (appending in order keeps it valid, so a monotonic load never
// sorts). The owner's lock guards it.
type store struct {
	m     map[string][]byte
	keys  []string // sorted when !dirty
	dirty bool
}

// newStore returns an empty store; its map is made on the first write so
// that big, empty tables cost little.
func newStore() *store { return &store{} }

func (s *store) get(raw []byte) ([]byte, bool) {
	v, ok := s.m[string(raw)]
	return v, ok
}

func (s *store) put(raw []byte, v []byte) {
	k := string(raw)
	if s.m == nil {
		s.m = make(map[string][]byte)
	}
	if _, ok := s.m[k]; !ok {
		if !s.dirty {
			if n := len(s.keys); n == 0 || s.keys[n-1] < k {
				s.keys = append(s.keys, k)
			} else {
				s.dirty = true
			}
		}
	}
	s.m[k] = v
}

func (s *store) del(raw []byte) {
	k := string(raw)
	if _, ok := s.m[k]; !ok {
		return
	}
	delete(s.m, k)
	if !s.dirty {
		i := sort.SearchStrings(s.keys, k)
		if i < len(s.keys) && s.keys[i] == k {
			// Deleting the last key is common (and cheap); otherwise mark dirty
			// rather than shifting a big slice on every delete.
			if i == len(s.keys)-1 {
				s.keys = s.keys[:i]
			} else {
				s.dirty = true
			}
		}
	}
}

// sorted returns the keys in raw-key (bytewise) order.
func (s *store) sorted() []string {
	if s.dirty {
		s.keys = s.keys[:0]
		for k := range s.m {
			s.keys = append(s.keys, k)
		}
		slices.Sort(s.keys)
		s.dirty = false
	}
	return s.keys
}

// seek returns the index of the first key ≥ k in sorted().
func (s *store) seek(k string) int {
	keys := s.sorted()
	return sort.SearchStrings(keys, k)
}

func (s *store) len() int { return len(s.m) }

// nextPrefix returns the smallest string greater than every string with
// prefix p, or "" (meaning: no upper bound) when p is all 0xff.
func nextPrefix(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}
