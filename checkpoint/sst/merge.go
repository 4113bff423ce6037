package sst

import "bytes"

// mergeIter yields the entries of several tables in internal-key order
// (user key ascending, sequence number descending) through a binary heap
// of table iterators. The current entry is the heap's root; its Key and
// Value stay valid until next.
type mergeIter struct {
	h   []*Iter
	all []*Iter
	err error
}

func newMergeIter(its []*Iter) *mergeIter {
	m := &mergeIter{h: make([]*Iter, 0, len(its)), all: its}
	for _, it := range its {
		if it.Next() {
			m.h = append(m.h, it)
		} else if it.Err() != nil && m.err == nil {
			m.err = it.Err()
		}
	}
	for i := len(m.h)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return m
}

// iterLess orders by user key, then newer (higher sequence) first.
func iterLess(a, b *Iter) bool {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c < 0
	}
	return a.seq > b.seq
}

// top is the current entry, nil at the end or after an error.
func (m *mergeIter) top() *Iter {
	if m.err != nil || len(m.h) == 0 {
		return nil
	}
	return m.h[0]
}

// next advances the root table and restores the heap.
func (m *mergeIter) next() {
	it := m.h[0]
	if it.Next() {
		m.down(0)
		return
	}
	if it.Err() != nil {
		m.err = it.Err()
		return
	}
	last := len(m.h) - 1
	m.h[0] = m.h[last]
	m.h = m.h[:last]
	if last > 0 {
		m.down(0)
	}
}

func (m *mergeIter) down(i int) {
	n := len(m.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && iterLess(m.h[r], m.h[l]) {
			j = r
		}
		if !iterLess(m.h[j], m.h[i]) {
			return
		}
		m.h[i], m.h[j] = m.h[j], m.h[i]
		i = j
	}
}

// close releases every table iterator's decompressor.
func (m *mergeIter) close() {
	for _, it := range m.all {
		it.Close()
	}
}
