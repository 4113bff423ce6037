package sst

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Kind is the value type in an internal key's trailer (RocksDB
// ValueType).
type Kind uint8

// Kinds (storage.md §5.5 item 6). Pegasus writes Value and Delete.
const (
	KindDelete           Kind = 0x0
	KindValue            Kind = 0x1
	KindMerge            Kind = 0x2
	KindSingleDelete     Kind = 0x7
	KindRangeDelete      Kind = 0xF
	KindBlobIndex        Kind = 0x11
	KindDeleteWithTs     Kind = 0x14
	KindWideColumnEntity Kind = 0x16
)

// IsDeletion reports whether the kind hides older versions of its key.
func (k Kind) IsDeletion() bool {
	return k == KindDelete || k == KindSingleDelete || k == KindDeleteWithTs
}

// Index types (property rocksdb.block.based.table.index.type).
const (
	indexBinary          = 0
	indexHash            = 1 // a binary index plus prefix metadata
	indexTwoLevel        = 2
	indexBinaryFirstKey  = 3
	metaPropertiesBlock  = "rocksdb.properties"
	metaRangeDelBlock    = "rocksdb.range_del"
	propIndexType        = "rocksdb.block.based.table.index.type"
	propIndexDelta       = "rocksdb.index.value.is.delta.encoded"
	propColumnFamilyName = "rocksdb.column.family.name"
	propGlobalSeqno      = "rocksdb.external_sst_file.global_seqno"
)

// Table is one open .sst file: its footer, properties and index. Iterators
// read data blocks on their own; a Table may serve several at once.
type Table struct {
	path  string
	r     io.ReaderAt
	c     io.Closer // nil for OpenReader
	size  int64
	foot  footer
	props Properties
	index []byte // the (top-level) index block, decoded and owned
	mode  indexMode
}

// Open reads the footer, metaindex, properties and index of the table at
// path. Every block read is checksum-verified.
func Open(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sst: opening table: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sst: %s: %w", path, err)
	}
	t, err := OpenReader(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	t.c = f
	return t, nil
}

// OpenReader is Open over any ReaderAt of size bytes; name is what errors
// call it. Close does not close r.
func OpenReader(name string, r io.ReaderAt, size int64) (*Table, error) {
	t := &Table{path: name, r: r, size: size}
	if size < footerLen {
		return nil, corruptf(name, 0, "file of %d bytes is shorter than a footer", size)
	}
	tail := make([]byte, footerLen)
	if _, err := r.ReadAt(tail, t.size-int64(len(tail))); err != nil {
		return nil, &FileError{File: name, Offset: t.size - int64(len(tail)), Class: ErrCorrupt, Msg: "reading footer", Err: err}
	}
	var err error
	if t.foot, err = parseFooter(name, tail, t.size); err != nil {
		return nil, err
	}
	br := t.newBlockReader()
	defer br.close()
	meta, err := t.readMetaindex(&br)
	if err != nil {
		return nil, err
	}
	if err := t.readProperties(&br, meta); err != nil {
		return nil, err
	}
	if err := t.checkFeatures(meta); err != nil {
		return nil, err
	}
	idx, err := br.read(t.foot.index)
	if err != nil {
		return nil, err
	}
	t.index = append([]byte(nil), idx...)
	return t, nil
}

func (t *Table) newBlockReader() blockReader {
	return blockReader{file: t.path, r: t.r, size: t.size, checksum: t.foot.checksum, version: t.foot.version}
}

// readMetaindex maps meta block names to their handles.
func (t *Table) readMetaindex(br *blockReader) (map[string]handle, error) {
	b, err := br.read(t.foot.metaindex)
	if err != nil {
		return nil, err
	}
	var it blockIter
	if err := it.init(t.path, int64(t.foot.metaindex.off), b, indexMode{isIndex: true}); err != nil {
		return nil, err
	}
	m := map[string]handle{}
	for it.next() {
		m[string(it.key)] = it.h
	}
	return m, it.err
}

func (t *Table) readProperties(br *blockReader, meta map[string]handle) error {
	h, ok := meta[metaPropertiesBlock]
	if !ok {
		return corruptf(t.path, int64(t.foot.metaindex.off), "no %s block in the metaindex", metaPropertiesBlock)
	}
	b, err := br.read(h)
	if errors.Is(err, errChecksum) {
		b, err = t.ingestedProperties(br, h, err)
	}
	if err != nil {
		return err
	}
	var it blockIter
	if err := it.init(t.path, int64(h.off), b, indexMode{}); err != nil {
		return err
	}
	raw := map[string][]byte{}
	for it.next() {
		raw[string(it.key)] = append([]byte(nil), it.val...)
	}
	if it.err != nil {
		return it.err
	}
	t.props = parseProperties(raw)
	t.props.FormatVersion = t.foot.version
	t.props.Checksum = t.foot.checksum
	t.props.FileSize = t.size
	return nil
}

// ingestedProperties accepts a properties block whose checksum fails
// because RocksDB overwrote rocksdb.external_sst_file.global_seqno in place
// when it ingested the file with write_global_seqno = true, without
// updating the block's checksum. RocksDB's own reader then verifies the
// block with that field zeroed (table/meta_blocks.cc); so do we. Any other
// mismatch stays the error it was.
func (t *Table) ingestedProperties(br *blockReader, h handle, mismatch error) ([]byte, error) {
	raw, err := br.span(h)
	if err != nil || raw[len(raw)-trailerLen] != byte(CompressionNone) {
		return nil, mismatch
	}
	block := append([]byte(nil), raw[:len(raw)-trailerLen]...)
	var it blockIter
	if it.init(t.path, int64(h.off), block, indexMode{}) != nil {
		return nil, mismatch
	}
	for it.next() {
		if string(it.key) != propGlobalSeqno || len(it.val) != 8 {
			continue
		}
		at := cap(block) - cap(it.val)
		zeroed := append([]byte(nil), block...)
		clear(zeroed[at : at+8])
		sum, _ := blockChecksum(t.foot.checksum, zeroed, byte(CompressionNone))
		if sum != binary.LittleEndian.Uint32(raw[len(raw)-4:]) {
			return nil, mismatch
		}
		return block, nil
	}
	return nil, mismatch
}

// checkFeatures refuses what this reader would get wrong and sets the
// index decoding mode.
func (t *Table) checkFeatures(meta map[string]handle) error {
	p := &t.props
	if p.Comparator != "" && p.Comparator != "leveldb.BytewiseComparator" {
		return unsupportedf(t.path, -1, "comparator %q (Pegasus uses leveldb.BytewiseComparator)", p.Comparator)
	}
	if h, ok := meta[metaRangeDelBlock]; ok && p.NumRangeDeletions > 0 {
		return unsupportedf(t.path, int64(h.off), "%d range deletions (Pegasus never writes DeleteRange)", p.NumRangeDeletions)
	}
	switch p.IndexType {
	case indexBinary, indexHash, indexTwoLevel:
	case indexBinaryFirstKey:
		t.mode.firstKey = true
	default:
		return unsupportedf(t.path, -1, "index type %d", p.IndexType)
	}
	t.mode.isIndex, t.mode.delta = true, p.IndexValueDeltaEncoded
	return nil
}

// Path is the file the table was opened from.
func (t *Table) Path() string { return t.path }

// Properties returns the table's properties block, decoded.
func (t *Table) Properties() Properties { return t.props }

// Close closes the file. Iterators of the table must not be used after.
func (t *Table) Close() error {
	if t.c == nil {
		return nil
	}
	return t.c.Close()
}

// Properties are the table properties a reader of Pegasus data needs
// (storage.md §5.5 item 8), plus footer facts.
type Properties struct {
	FileSize               int64
	FormatVersion          uint32
	Checksum               ChecksumType
	ColumnFamily           string // "default" holds Pegasus data, "pegasus_meta_cf" its meta records
	Comparator             string
	Compression            string // the table's configured compression, e.g. "LZ4"; blocks may still be stored raw
	NumEntries             uint64
	NumDeletions           uint64
	NumRangeDeletions      uint64
	NumDataBlocks          uint64
	RawKeySize             uint64
	RawValueSize           uint64
	DataSize               uint64
	IndexSize              uint64
	FilterSize             uint64
	IndexType              uint32
	IndexKeyIsUserKey      bool
	IndexValueDeltaEncoded bool
	External               bool   // written by SstFileWriter (bulk load)
	GlobalSeqno            uint64 // external files: the sequence number all entries take, 0 if not recorded
}

// parseProperties decodes the properties RocksDB writes as varint64
// numbers, strings or (user-collected) fixed-width integers.
func parseProperties(raw map[string][]byte) Properties {
	num := func(name string) uint64 {
		v, _ := binary.Uvarint(raw[name])
		return v
	}
	p := Properties{
		ColumnFamily:           string(raw[propColumnFamilyName]),
		Comparator:             string(raw["rocksdb.comparator"]),
		Compression:            string(raw["rocksdb.compression"]),
		NumEntries:             num("rocksdb.num.entries"),
		NumDeletions:           num("rocksdb.deleted.keys"),
		NumRangeDeletions:      num("rocksdb.num.range-deletions"),
		NumDataBlocks:          num("rocksdb.num.data.blocks"),
		RawKeySize:             num("rocksdb.raw.key.size"),
		RawValueSize:           num("rocksdb.raw.value.size"),
		DataSize:               num("rocksdb.data.size"),
		IndexSize:              num("rocksdb.index.size"),
		FilterSize:             num("rocksdb.filter.size"),
		IndexKeyIsUserKey:      num("rocksdb.index.key.is.user.key") != 0,
		IndexValueDeltaEncoded: num(propIndexDelta) != 0,
	}
	if v := raw[propIndexType]; len(v) == 4 {
		p.IndexType = binary.LittleEndian.Uint32(v)
	}
	if v, ok := raw["rocksdb.external_sst_file.version"]; ok && len(v) == 4 {
		p.External = true
	}
	if v := raw[propGlobalSeqno]; len(v) == 8 {
		p.GlobalSeqno = binary.LittleEndian.Uint64(v)
	}
	return p
}
