package sst

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// A minimal block-based table writer for tests that must not depend on
// rocksdb-tools (fuzz seeds, exact corruption offsets). It follows the
// layout of storage.md §5.5 the way RocksDB's BlockBasedTableBuilder lays
// it out: data blocks, the properties block, the metaindex, the index,
// then the footer. The real-file tests (sstdump_test.go) are what prove
// the reader against RocksDB itself.

type kv struct {
	key, value []byte
}

type testTable struct {
	checksum    ChecksumType
	compression Compression
	version     uint32
	perBlock    int // entries per data block
	restart     int // restart interval of data blocks
	cf          string
	extraProps  []kv
}

// ikey is an internal key: user key ‖ u64 LE (seq << 8 | kind).
func ikey(user string, seq uint64, kind Kind) []byte {
	return binary.LittleEndian.AppendUint64([]byte(user), seq<<8|uint64(kind))
}

// blockBytes encodes entries with prefix compression and restarts.
func blockBytes(entries []kv, restart int) []byte {
	var b, prev []byte
	var restarts []uint32
	for i, e := range entries {
		shared := 0
		if i%restart == 0 {
			restarts = append(restarts, uint32(len(b)))
		} else {
			for shared < len(prev) && shared < len(e.key) && prev[shared] == e.key[shared] {
				shared++
			}
		}
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(e.key)-shared))
		b = binary.AppendUvarint(b, uint64(len(e.value)))
		b = append(b, e.key[shared:]...)
		b = append(b, e.value...)
		prev = e.key
	}
	if len(restarts) == 0 {
		restarts = []uint32{0}
	}
	for _, r := range restarts {
		b = binary.LittleEndian.AppendUint32(b, r)
	}
	return binary.LittleEndian.AppendUint32(b, uint32(len(restarts)))
}

func compress(c Compression, src []byte) []byte {
	switch c {
	case CompressionNone:
		return src
	case CompressionSnappy:
		return snappy.Encode(nil, src)
	case CompressionLZ4:
		dst := make([]byte, lz4.CompressBlockBound(len(src)))
		n, err := lz4.CompressBlock(src, dst, nil)
		if err != nil || n == 0 {
			panic(fmt.Sprint("lz4: ", err))
		}
		return append(binary.AppendUvarint(nil, uint64(len(src))), dst[:n]...)
	case CompressionZstd:
		enc, _ := zstd.NewWriter(nil)
		defer enc.Close()
		return enc.EncodeAll(src, binary.AppendUvarint(nil, uint64(len(src))))
	}
	panic("compression not built here")
}

func (tt testTable) appendBlock(file, contents []byte, c Compression) ([]byte, handle) {
	stored := compress(c, contents)
	h := handle{off: uint64(len(file)), size: uint64(len(stored))}
	file = append(file, stored...)
	sum, _ := blockChecksum(tt.checksum, stored, byte(c))
	file = append(file, byte(c))
	return binary.LittleEndian.AppendUint32(file, sum), h
}

func appendHandle(b []byte, h handle) []byte {
	return binary.AppendUvarint(binary.AppendUvarint(b, h.off), h.size)
}

// build writes entries (sorted internal keys) as a table.
func (tt testTable) build(entries []kv) []byte {
	if tt.perBlock == 0 {
		tt.perBlock = 8
	}
	if tt.restart == 0 {
		tt.restart = 4
	}
	if tt.version == 0 {
		tt.version = 2
	}
	if tt.cf == "" {
		tt.cf = DataCF
	}
	var file []byte
	var index []kv
	for i := 0; i < len(entries); i += tt.perBlock {
		blk := entries[i:min(i+tt.perBlock, len(entries))]
		var h handle
		file, h = tt.appendBlock(file, blockBytes(blk, tt.restart), tt.compression)
		index = append(index, kv{blk[len(blk)-1].key, appendHandle(nil, h)})
	}
	props := []kv{
		{[]byte(propColumnFamilyName), []byte(tt.cf)},
		{[]byte("rocksdb.comparator"), []byte("leveldb.BytewiseComparator")},
		{[]byte("rocksdb.num.entries"), binary.AppendUvarint(nil, uint64(len(entries)))},
	}
	props = append(props, tt.extraProps...)
	sort.Slice(props, func(i, j int) bool { return bytes.Compare(props[i].key, props[j].key) < 0 })
	file, ph := tt.appendBlock(file, blockBytes(props, 1), CompressionNone)
	file, mh := tt.appendBlock(file, blockBytes([]kv{{[]byte(metaPropertiesBlock), appendHandle(nil, ph)}}, 1), CompressionNone)
	file, ih := tt.appendBlock(file, blockBytes(index, 1), tt.compression)
	foot := []byte{byte(tt.checksum)}
	foot = appendHandle(appendHandle(foot, mh), ih)
	foot = append(foot, make([]byte, 1+2*maxHandleLen-len(foot))...)
	foot = binary.LittleEndian.AppendUint32(foot, tt.version)
	foot = binary.LittleEndian.AppendUint64(foot, blockMagic)
	return append(file, foot...)
}

// sampleEntries are n Pegasus-shaped entries with a deletion every 5th.
func sampleEntries(n int) []kv {
	var es []kv
	for i := range n {
		user := fmt.Sprintf("\x00\x04user%06d", i)
		if i%5 == 4 {
			es = append(es, kv{ikey(user, uint64(1000+i), KindDelete), nil})
			continue
		}
		v := append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, fmt.Sprintf("value-%d-value-value", i)...)
		es = append(es, kv{ikey(user, uint64(1000+i), KindValue), v})
	}
	return es
}
