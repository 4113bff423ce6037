package keyorder

import "bytes"

// generation remembers keys and their newest timetags in two pointer-free
// arrays: an open-addressing table of slots (linear probing, power-of-two
// size, at most 3/4 full) and an arena holding every key's bytes once.
//
// A Go map[string] costs, per new key, a string allocation the collector
// must track and a second hash of the key; at the guard's working set
// (millions of keys, far beyond the CPU caches) each lookup also misses
// the cache twice (control word, then key). Here the caller's one hash
// picks the slot, a slot holds the full hash and the timetag, so a lookup
// of an absent key touches only slots, and the key bytes are compared only
// when the hashes are equal (exactness does not rest on the hash). A
// rotation drops a generation as two allocations, not millions.
type generation struct {
	slots []slot
	keys  []byte // arena: slot.off/slot.n index it
	n     int    // keys remembered
}

// slot is empty when h is 0 (hashes are stored with the low bit set).
type slot struct {
	h   uint64
	tt  uint64
	off uint32
	n   uint32
}

const minSlots = 16

// newGeneration is sized for keys keys of arena bytes in all (the
// previous generation's, so that a steady load does not regrow them).
func newGeneration(keys, arena int) generation {
	size := minSlots
	for size*3/4 < keys {
		size *= 2
	}
	return generation{slots: make([]slot, size), keys: make([]byte, 0, arena)}
}

// find returns the index of k's slot, or of the empty slot where k would
// go, and whether k is there.
func (g *generation) find(h uint64, k []byte) (int, bool) {
	mask := len(g.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := &g.slots[i]
		if s.h == 0 {
			return i, false
		}
		if s.h == h && bytes.Equal(g.keys[s.off:s.off+s.n], k) {
			return i, true
		}
	}
}

// insert remembers k (absent; i is find's empty slot) with timetag tt.
func (g *generation) insert(i int, h uint64, k []byte, tt uint64) {
	if (g.n+1)*4 > len(g.slots)*3 {
		g.grow()
		i, _ = g.find(h, k)
	}
	g.slots[i] = slot{h: h, tt: tt, off: uint32(len(g.keys)), n: uint32(len(k))}
	g.keys = append(g.keys, k...)
	g.n++
}

// grow doubles the table, re-placing slots by their stored hashes.
func (g *generation) grow() {
	old := g.slots
	g.slots = make([]slot, 2*len(old))
	mask := len(g.slots) - 1
	for _, s := range old {
		if s.h == 0 {
			continue
		}
		i := int(s.h) & mask
		for g.slots[i].h != 0 {
			i = (i + 1) & mask
		}
		g.slots[i] = s
	}
}
