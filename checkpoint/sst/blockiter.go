package sst

import "encoding/binary"

// blockIter walks the entries of one decoded block in order (storage.md
// §5.5 item 5): shared varint32 ‖ non_shared varint32 ‖ [value_len
// varint32] ‖ key delta ‖ value, then the restart array and its count.
// The key is rebuilt in a buffer the iterator keeps; key and value are
// valid until the next call to next. No allocation per entry.
type blockIter struct {
	file  string
	base  int64 // file offset of the block, for errors
	data  []byte
	end   int    // entries are data[:end]; the restart array follows
	rs    []byte // restart offsets, u32 LE each
	ri    int    // index of the first restart not behind off
	off   int    // offset of the next entry
	key   []byte
	val   []byte
	err   error
	index indexMode
	h     handle // index blocks: the handle of the current entry
	prevH handle
}

// indexMode says how an index block's values are encoded (RocksDB
// IndexValue, table properties rocksdb.index.value.is.delta.encoded and
// the index type).
type indexMode struct {
	isIndex  bool
	delta    bool // no value_len; values between restarts are size deltas
	firstKey bool // index type binary_search_with_first_key: a first key follows the handle
}

func (it *blockIter) init(file string, base int64, b []byte, mode indexMode) error {
	*it = blockIter{file: file, base: base, data: b, key: it.key[:0], index: mode}
	if len(b) < 4 {
		return corruptf(file, base, "block of %d bytes has no restart count", len(b))
	}
	packed := binary.LittleEndian.Uint32(b[len(b)-4:])
	n, tail := int(packed&0x7fffffff), len(b)-4
	if packed>>31 != 0 { // data block hash index: buckets ‖ num_buckets u16 ‖ packed count
		if tail < 2 {
			return corruptf(file, base, "block hash index without its bucket count")
		}
		nb := int(binary.LittleEndian.Uint16(b[tail-2:]))
		if tail -= 2 + nb; tail < 0 {
			return corruptf(file, base, "block hash index of %d buckets overruns the block", nb)
		}
	}
	if n == 0 || n > tail/4 {
		return corruptf(file, base, "block of %d bytes claims %d restarts", len(b), n)
	}
	it.end = tail - 4*n
	it.rs = b[it.end:tail]
	return nil
}

// next decodes the next entry; false at the end or on error (see err).
func (it *blockIter) next() bool {
	if it.off >= it.end || it.err != nil {
		return false
	}
	p := it.data[it.off:it.end]
	var shared, unshared, vlen uint64
	var n int
	if len(p) >= 3 && p[0]|p[1]|p[2] < 0x80 && !it.index.delta { // RocksDB's fast path: three one-byte varints
		shared, unshared, vlen, n = uint64(p[0]), uint64(p[1]), uint64(p[2]), 3
	} else {
		var k int
		if shared, k = binary.Uvarint(p); k <= 0 {
			return it.fail("bad shared-length varint")
		}
		n += k
		if unshared, k = binary.Uvarint(p[n:]); k <= 0 {
			return it.fail("bad key-length varint")
		}
		n += k
		if !it.index.delta {
			if vlen, k = binary.Uvarint(p[n:]); k <= 0 {
				return it.fail("bad value-length varint")
			}
			n += k
		}
	}
	if shared > uint64(len(it.key)) || (it.off == 0 && shared != 0) {
		return it.fail("entry shares %d key bytes with a key of %d", shared, len(it.key))
	}
	if unshared > uint64(len(p)-n) {
		return it.fail("key of %d bytes runs past the block", unshared)
	}
	it.key = append(it.key[:shared], p[n:n+int(unshared)]...)
	n += int(unshared)
	if it.index.delta {
		k, ok := it.deltaValue(p[n:])
		if !ok {
			return false
		}
		vlen = uint64(k)
	}
	if vlen > uint64(len(p)-n) {
		return it.fail("value of %d bytes runs past the block", vlen)
	}
	it.val = p[n : n+int(vlen)]
	if it.index.isIndex && !it.index.delta && !it.plainValue() {
		return false
	}
	it.off += n + int(vlen)
	return true
}

// atRestart reports whether the entry at it.off is a restart point.
func (it *blockIter) atRestart() bool {
	for it.ri < len(it.rs)/4 && int(binary.LittleEndian.Uint32(it.rs[4*it.ri:])) < it.off {
		it.ri++
	}
	return it.ri < len(it.rs)/4 && int(binary.LittleEndian.Uint32(it.rs[4*it.ri:])) == it.off
}

// deltaValue decodes a delta-encoded index value at p (format_version ≥ 4):
// a full handle at restart points, else the zigzag size delta from the
// previous handle, whose block this one directly follows.
func (it *blockIter) deltaValue(p []byte) (int, bool) {
	var n int
	if it.atRestart() {
		if it.h, n = decodeHandle(p); n == 0 {
			return 0, it.fail("bad block handle in index entry")
		}
	} else {
		d, k := binary.Varint(p)
		if k <= 0 {
			return 0, it.fail("bad size delta in index entry")
		}
		n = k
		prev := it.prevH
		it.h = handle{off: prev.off + prev.size + trailerLen, size: uint64(int64(prev.size) + d)}
	}
	it.prevH = it.h
	if it.index.firstKey {
		l, k := binary.Uvarint(p[n:])
		if k <= 0 || l > uint64(len(p)-n-k) {
			return 0, it.fail("bad first key in index entry")
		}
		n += k + int(l)
	}
	return n, true
}

// plainValue decodes a full index value (a handle, then maybe the first
// key).
func (it *blockIter) plainValue() bool {
	var n int
	if it.h, n = decodeHandle(it.val); n == 0 {
		return it.fail("bad block handle in index entry")
	}
	return true
}

func (it *blockIter) fail(format string, args ...any) bool {
	it.err = corruptf(it.file, it.base, "entry at block offset %d: "+format, append([]any{it.off}, args...)...)
	return false
}
