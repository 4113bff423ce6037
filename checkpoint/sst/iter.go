package sst

import (
	"encoding/binary"
)

// Iter walks every entry of one table in its internal-key order: user key
// ascending, then sequence number descending. Key and Value are valid until
// the next call to Next; nothing is allocated per entry.
type Iter struct {
	t    *Table
	br   blockReader
	top  blockIter // the index, or the top level of a two-level index
	part blockIter // the current index partition (two-level index only)
	pbuf []byte    // owned copy of the current partition
	data blockIter
	dh   handle // current data block

	key     []byte
	seq     uint64
	kind    Kind
	err     error
	done    bool
	pending bool // SeekGE found the current entry; Next returns it first

	skipBelow []byte // during SeekGE: the sought key
}

// NewIter returns an iterator positioned before the first entry.
func (t *Table) NewIter() *Iter {
	it := &Iter{t: t, br: t.newBlockReader()}
	if err := it.top.init(t.path, int64(t.foot.index.off), t.index, t.mode); err != nil {
		it.err, it.done = err, true
	}
	return it
}

// Next advances to the next entry. It returns false at the end of the
// table or on error; Err tells which.
func (it *Iter) Next() bool {
	if it.done {
		return false
	}
	if it.pending {
		it.pending = false
		return true
	}
	for {
		if it.data.next() {
			return it.decodeKey()
		}
		if it.data.err != nil {
			return it.fail(it.data.err)
		}
		h, ok := it.nextDataHandle()
		if !ok {
			return false
		}
		b, err := it.br.read(h)
		if err != nil {
			return it.fail(err)
		}
		it.dh = h
		if err := it.data.init(it.t.path, int64(h.off), b, indexMode{}); err != nil {
			return it.fail(err)
		}
	}
}

// SeekGE positions the iterator so that the next call to Next yields the
// first entry whose user key is ≥ key (then the rest in order). It reads
// only the index and the one data block that may hold key: a block is
// skipped when its index separator (≥ every key in it) is below key.
func (it *Iter) SeekGE(key []byte) {
	t := it.t
	it.pending, it.done, it.err = false, false, nil
	it.data = blockIter{key: it.data.key[:0]}
	it.part = blockIter{key: it.part.key[:0]}
	if err := it.top.init(t.path, int64(t.foot.index.off), t.index, t.mode); err != nil {
		it.fail(err)
		return
	}
	it.skipBelow = key
	defer func() { it.skipBelow = nil }()
	for it.Next() {
		if compareUserKeys(it.key, key) >= 0 {
			it.pending = true
			return
		}
	}
}

// below reports whether an index entry's separator is under skipBelow, so
// that its block (or partition) holds no key a seek wants.
func (it *Iter) below(sep []byte) bool {
	if it.skipBelow == nil {
		return false
	}
	if !it.t.props.IndexKeyIsUserKey {
		if len(sep) < 8 {
			return false // malformed: let the block read report it
		}
		sep = sep[:len(sep)-8]
	}
	return compareUserKeys(sep, it.skipBelow) < 0
}

// nextDataHandle steps the index (and, for a two-level index, the
// partitions) to the next data block.
func (it *Iter) nextDataHandle() (handle, bool) {
	if it.t.props.IndexType != indexTwoLevel {
		for it.top.next() {
			if !it.below(it.top.key) {
				return it.top.h, true
			}
		}
		return handle{}, it.fail(it.top.err)
	}
	for {
		for it.part.data != nil && it.part.next() {
			if !it.below(it.part.key) {
				return it.part.h, true
			}
		}
		if it.part.err != nil {
			return handle{}, it.fail(it.part.err)
		}
		if !it.top.next() {
			return handle{}, it.fail(it.top.err)
		}
		if it.below(it.top.key) {
			continue
		}
		b, err := it.br.read(it.top.h)
		if err != nil {
			return handle{}, it.fail(err)
		}
		it.pbuf = append(it.pbuf[:0], b...)
		if err := it.part.init(it.t.path, int64(it.top.h.off), it.pbuf, it.t.mode); err != nil {
			return handle{}, it.fail(err)
		}
	}
}

// decodeKey splits the internal key: user key ‖ u64 LE (seq << 8 | kind).
func (it *Iter) decodeKey() bool {
	k := it.data.key
	if len(k) < 8 {
		return it.fail(corruptf(it.t.path, int64(it.dh.off), "internal key of %d bytes (needs an 8-byte trailer)", len(k)))
	}
	tr := binary.LittleEndian.Uint64(k[len(k)-8:])
	it.key, it.seq, it.kind = k[:len(k)-8], tr>>8, Kind(tr&0xff)
	if it.seq == 0 && it.t.props.GlobalSeqno != 0 {
		it.seq = it.t.props.GlobalSeqno
	}
	return true
}

// fail ends the iteration; a nil err is a clean end.
func (it *Iter) fail(err error) bool {
	it.err, it.done = err, true
	return false
}

// Key is the current entry's user key (for Pegasus data, the raw key).
func (it *Iter) Key() []byte { return it.key }

// Seq is the current entry's sequence number.
func (it *Iter) Seq() uint64 { return it.seq }

// Kind is the current entry's value type.
func (it *Iter) Kind() Kind { return it.kind }

// Value is the current entry's value (empty for deletions).
func (it *Iter) Value() []byte { return it.data.val }

// Err is the error that ended the iteration, nil after a clean end.
func (it *Iter) Err() error { return it.err }

// Offset is the file offset just past the data block being read (the
// whole file once the iteration has ended cleanly).
func (it *Iter) Offset() int64 {
	if it.done && it.err == nil {
		return it.t.size
	}
	if it.dh.size == 0 {
		return 0
	}
	return int64(it.dh.off + it.dh.size + trailerLen)
}

// Blocks counts the blocks (data and index partitions) read so far and how
// many of them were stored compressed: a table's compression applies per
// block, and RocksDB stores a block raw when compressing does not pay.
func (it *Iter) Blocks() (read, compressed int) { return it.br.blocks, it.br.compressed }

// Close releases the iterator's decompressor.
func (it *Iter) Close() { it.br.close() }
