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

	key  []byte
	seq  uint64
	kind Kind
	err  error
	done bool
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

// nextDataHandle steps the index (and, for a two-level index, the
// partitions) to the next data block.
func (it *Iter) nextDataHandle() (handle, bool) {
	if it.t.props.IndexType != indexTwoLevel {
		if it.top.next() {
			return it.top.h, true
		}
		return handle{}, it.fail(it.top.err)
	}
	for {
		if it.part.data != nil && it.part.next() {
			return it.part.h, true
		}
		if it.part.err != nil {
			return handle{}, it.fail(it.part.err)
		}
		if !it.top.next() {
			return handle{}, it.fail(it.top.err)
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

// Blocks counts the blocks (data and index partitions) read so far and how
// many of them were stored compressed: a table's compression applies per
// block, and RocksDB stores a block raw when compressing does not pay.
func (it *Iter) Blocks() (read, compressed int) { return it.br.blocks, it.br.compressed }

// Close releases the iterator's decompressor.
func (it *Iter) Close() { it.br.close() }
