package sst

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/cespare/xxhash/v2"
	"github.com/zeebo/xxh3"
)

// Footer layout for format_version 1–5 (storage.md §5.5 item 1; RocksDB
// table/format.cc): checksum type (1) ‖ metaindex handle ‖ index handle
// (varints, zero-padded to 40 bytes) ‖ format_version (u32 LE) ‖ magic
// (u64 LE).
const (
	footerLen        = 1 + 2*maxHandleLen + 4 + 8
	maxHandleLen     = 20 // two varint64s
	legacyFooterLen  = 2*maxHandleLen + 8
	blockMagic       = 0x88E241B785F4CFF7 // kBlockBasedTableMagicNumber
	legacyBlockMagic = 0xDB4775248B80FB57 // kLegacyBlockBasedTableMagicNumber
	trailerLen       = 5                  // compression type (1) ‖ checksum (u32 LE)
)

// ChecksumType is the footer's checksum type (RocksDB ChecksumType).
type ChecksumType uint8

// Checksum types. A table uses one for all its blocks.
const (
	ChecksumNone     ChecksumType = 0
	ChecksumCRC32c   ChecksumType = 1
	ChecksumXXHash   ChecksumType = 2 // XXH32; not implemented here
	ChecksumXXHash64 ChecksumType = 3
	ChecksumXXH3     ChecksumType = 4
)

func (c ChecksumType) String() string {
	switch c {
	case ChecksumNone:
		return "none"
	case ChecksumCRC32c:
		return "crc32c"
	case ChecksumXXHash:
		return "xxhash"
	case ChecksumXXHash64:
		return "xxhash64"
	case ChecksumXXH3:
		return "xxh3"
	}
	return "unknown"
}

// Compression is a block's compression type byte (RocksDB
// CompressionType); it sits in every block trailer.
type Compression uint8

// Compression types a Pegasus table can hold (storage.md §5.5 item 4).
const (
	CompressionNone         Compression = 0
	CompressionSnappy       Compression = 1
	CompressionZlib         Compression = 2
	CompressionBZip2        Compression = 3
	CompressionLZ4          Compression = 4
	CompressionLZ4HC        Compression = 5
	CompressionXpress       Compression = 6
	CompressionZstd         Compression = 7
	CompressionZstdNotFinal Compression = 0x40
)

func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionSnappy:
		return "snappy"
	case CompressionZlib:
		return "zlib"
	case CompressionBZip2:
		return "bzip2"
	case CompressionLZ4:
		return "lz4"
	case CompressionLZ4HC:
		return "lz4hc"
	case CompressionXpress:
		return "xpress"
	case CompressionZstd, CompressionZstdNotFinal:
		return "zstd"
	}
	return "unknown"
}

// handle is a BlockHandle: where a block starts and its size without the
// trailer.
type handle struct{ off, size uint64 }

// decodeHandle reads offset varint64 ‖ size varint64; n is 0 when b is
// too short or a varint overflows.
func decodeHandle(b []byte) (h handle, n int) {
	off, n1 := binary.Uvarint(b)
	if n1 <= 0 {
		return handle{}, 0
	}
	size, n2 := binary.Uvarint(b[n1:])
	if n2 <= 0 {
		return handle{}, 0
	}
	return handle{off, size}, n1 + n2
}

// footer is the decoded table footer.
type footer struct {
	checksum  ChecksumType
	metaindex handle
	index     handle
	version   uint32
}

// parseFooter decodes the last footerLen bytes of a table of fileSize
// bytes.
func parseFooter(file string, b []byte, fileSize int64) (footer, error) {
	if len(b) < footerLen || fileSize < footerLen {
		return footer{}, corruptf(file, 0, "file of %d bytes is shorter than a footer", fileSize)
	}
	b = b[len(b)-footerLen:]
	off := fileSize - footerLen
	magic := binary.LittleEndian.Uint64(b[footerLen-8:])
	if magic != blockMagic {
		if binary.LittleEndian.Uint64(b[footerLen-8:]) == legacyBlockMagic {
			return footer{}, unsupportedf(file, off, "legacy footer (format_version 0)")
		}
		return footer{}, corruptf(file, fileSize-8, "bad magic %#016x, not a block-based table", magic)
	}
	f := footer{checksum: ChecksumType(b[0]), version: binary.LittleEndian.Uint32(b[footerLen-12:])}
	if f.version < 1 || f.version > 5 {
		return footer{}, unsupportedf(file, fileSize-12, "format_version %d (this reader knows 1 to 5)", f.version)
	}
	n := 0
	if f.metaindex, n = decodeHandle(b[1 : 1+2*maxHandleLen]); n == 0 {
		return footer{}, corruptf(file, off+1, "bad metaindex handle in footer")
	}
	var m int
	if f.index, m = decodeHandle(b[1+n : 1+2*maxHandleLen]); m == 0 {
		return footer{}, corruptf(file, off+1+int64(n), "bad index handle in footer")
	}
	for _, h := range []handle{f.metaindex, f.index} {
		if h.off > uint64(off) || h.size > uint64(off)-h.off || h.off+h.size+trailerLen > uint64(off) {
			return footer{}, corruptf(file, off, "footer block handle [%d, +%d) beyond the data (%d bytes)", h.off, h.size, off)
		}
	}
	return f, nil
}

// castagnoli is the CRC-32C table; read-only after init.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const crcMaskDelta = 0xa282ead8

// blockChecksum computes the trailer checksum over block ‖ typ the way
// RocksDB's ComputeBuiltinChecksumWithLastByte does (storage.md §5.5 item 3).
// ok is false for a type without an implementation here.
func blockChecksum(t ChecksumType, block []byte, typ byte) (sum uint32, ok bool) {
	switch t {
	case ChecksumNone:
		return 0, true
	case ChecksumCRC32c:
		c := crc32.Update(0, castagnoli, block)
		c = ^c // the type byte by hand: a one-byte slice would be allocated per block
		c = castagnoli[byte(c)^typ] ^ c>>8
		c = ^c
		return ((c >> 15) | (c << 17)) + crcMaskDelta, true
	case ChecksumXXHash64:
		var d xxhash.Digest
		d.Reset()
		_, _ = d.Write(block)
		last := [1]byte{typ}
		_, _ = d.Write(last[:])
		return uint32(d.Sum64()), true
	case ChecksumXXH3:
		return uint32(xxh3.Hash(block)) ^ uint32(typ)*0x6B9083D9, true
	}
	return 0, false
}
