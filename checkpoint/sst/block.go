package sst

import (
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// readahead is how much a blockReader reads from the file at once. Data
// blocks are about 4 KiB (Pegasus leaves block_size at its default) and a
// scan visits them in file order, so one read serves many blocks.
const readahead = 256 << 10

// maxBlockSize bounds a block handle's size before anything is allocated
// for it: a corrupt handle must give an error, not a huge allocation.
const maxBlockSize = 64 << 20

// errChecksum marks a block checksum mismatch among ErrCorrupt errors.
var errChecksum = errors.New("checksum mismatch")

// blockReader reads, verifies and decompresses the blocks of one table.
// Its buffers are reused: a block it returns is valid until the next call.
type blockReader struct {
	file     string
	r        io.ReaderAt
	size     int64
	checksum ChecksumType
	version  uint32 // format_version: below 2, LZ4, zlib and bzip2 blocks had another header

	win    []byte // file bytes [winOff, winOff+len(win))
	winOff int64
	out    []byte // decompressed block
	zstd   *zstd.Decoder

	blocks, compressed int // blocks read, and how many of them were compressed
}

// read returns the contents of the block at h: verified against its
// trailer and decompressed when its type says so.
func (br *blockReader) read(h handle) ([]byte, error) {
	raw, err := br.span(h)
	if err != nil {
		return nil, err
	}
	n := len(raw) - trailerLen
	block, typ := raw[:n], raw[n]
	want := binary.LittleEndian.Uint32(raw[n+1:])
	got, ok := blockChecksum(br.checksum, block, typ)
	if !ok {
		return nil, unsupportedf(br.file, int64(h.off), "checksum type %d (%s)", br.checksum, br.checksum)
	}
	if br.checksum != ChecksumNone && got != want {
		return nil, &FileError{File: br.file, Offset: int64(h.off), Class: ErrCorrupt, Err: errChecksum,
			Msg: fmt.Sprintf("block checksum mismatch (%s): stored %#08x, computed %#08x (block of %d bytes)", br.checksum, want, got, n)}
	}
	br.blocks++
	if typ != byte(CompressionNone) {
		br.compressed++
	}
	return br.decompress(h, Compression(typ), block)
}

// span returns the raw bytes of block h and its trailer, from the
// readahead window when they are in it.
func (br *blockReader) span(h handle) ([]byte, error) {
	if h.off > uint64(br.size) || h.size+trailerLen > uint64(br.size)-h.off {
		return nil, corruptf(br.file, int64(h.off), "block handle [%d, +%d) runs past the end of the file (%d bytes)", h.off, h.size, br.size)
	}
	if h.size > maxBlockSize { // Pegasus rejects writes over 1 MiB by default (max_allowed_write_size)
		return nil, unsupportedf(br.file, int64(h.off), "block of %d bytes, above this reader's %d-byte cap", h.size, maxBlockSize)
	}
	off, n := int64(h.off), int64(h.size)+trailerLen
	if off >= br.winOff && off+n <= br.winOff+int64(len(br.win)) {
		return br.win[off-br.winOff : off-br.winOff+n], nil
	}
	want := max(n, readahead)
	want = min(want, br.size-off)
	if int64(cap(br.win)) < want {
		br.win = make([]byte, want)
	}
	br.win = br.win[:want]
	got, err := br.r.ReadAt(br.win, off)
	if int64(got) < n {
		br.win, br.winOff = br.win[:0], 0
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, &FileError{File: br.file, Offset: off, Class: ErrCorrupt, Msg: "reading block", Err: err}
	}
	br.win, br.winOff = br.win[:got], off
	return br.win[:n], nil
}

// decompress undoes a block's compression ("compress format 2", which
// every format_version ≥ 2 uses: LZ4 and Zstd carry a varint32 of the
// uncompressed size before their stream; Snappy's raw block format holds
// its own).
func (br *blockReader) decompress(h handle, c Compression, b []byte) ([]byte, error) {
	if c == CompressionNone {
		return b, nil
	}
	fail := func(err error) error {
		return &FileError{File: br.file, Offset: int64(h.off), Class: ErrCorrupt, Msg: c.String() + " block does not decompress", Err: err}
	}
	if c == CompressionSnappy {
		n, err := snappy.DecodedLen(b)
		if err != nil || n > maxExpansion(c, len(b)) {
			return nil, fail(err)
		}
		out, err := snappy.Decode(br.grow(n), b)
		if err != nil {
			return nil, fail(err)
		}
		return out, nil
	}
	if br.version < 2 {
		return nil, unsupportedf(br.file, int64(h.off), "%s block in a format_version %d table (compress format 1)", c, br.version)
	}
	size, k := binary.Uvarint(b)
	if k <= 0 || size > uint64(maxExpansion(c, len(b)-k)) {
		return nil, corruptf(br.file, int64(h.off), "%s block: uncompressed size prefix %d is impossible for %d compressed bytes", c, size, len(b))
	}
	out, err := br.decode(c, b[k:], int(size))
	if errors.Is(err, ErrUnsupported) {
		return nil, unsupportedf(br.file, int64(h.off), "block compression type %d (%s)", uint8(c), c)
	}
	if err != nil {
		return nil, fail(err)
	}
	if len(out) != int(size) {
		return nil, corruptf(br.file, int64(h.off), "%s block decompressed to %d bytes, its header says %d", c, len(out), size)
	}
	return out, nil
}

// decode decompresses src, which claims size bytes. LZ4 and zlib write
// into a buffer of that size (maxExpansion bounds it by len(src)); Zstd and
// bzip2 grow their output as it comes, so a false claim costs nothing.
func (br *blockReader) decode(c Compression, src []byte, size int) ([]byte, error) {
	switch c {
	case CompressionLZ4, CompressionLZ4HC:
		dst := br.grow(size)
		n, err := lz4.UncompressBlock(src, dst)
		return dst[:max(n, 0)], err
	case CompressionZlib:
		dst := br.grow(size)
		n, err := readFull(flate.NewReader(bytes.NewReader(src)), dst)
		if n > size {
			return nil, errors.New("deflate stream longer than its size prefix")
		}
		return dst[:n], err
	case CompressionZstd, CompressionZstdNotFinal:
		if br.zstd == nil {
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBlockSize))
			if err != nil {
				return nil, err
			}
			br.zstd = d
		}
		out, err := br.zstd.DecodeAll(src, br.out[:0])
		br.keep(out)
		return out, err
	case CompressionBZip2:
		buf := bytes.NewBuffer(br.out[:0])
		_, err := buf.ReadFrom(io.LimitReader(bzip2.NewReader(bytes.NewReader(src)), int64(size)+1))
		br.keep(buf.Bytes())
		return buf.Bytes(), err
	}
	return nil, ErrUnsupported
}

// keep makes a buffer a decoder grew the one to reuse.
func (br *blockReader) keep(b []byte) {
	if cap(b) > cap(br.out) {
		br.out = b[:0]
	}
}

// maxExpansion bounds the uncompressed size a block of n compressed bytes
// can claim, so that a corrupt size prefix cannot make us allocate
// hundreds of MiB: LZ4 expands at most 255×, Snappy about 22× (a 3-byte
// copy of 64 bytes), deflate 1032×; Zstd and bzip2 frames can expand far
// more, so only the block cap applies to them (their decoders grow the
// output as it comes instead).
func maxExpansion(c Compression, n int) int {
	n = max(n, 0)
	switch c {
	case CompressionLZ4, CompressionLZ4HC:
		return min(255*n+64, maxBlockSize)
	case CompressionSnappy:
		return min(32*n+64, maxBlockSize)
	case CompressionZlib:
		return min(1032*n+64, maxBlockSize)
	}
	return maxBlockSize
}

// readFull reads exactly len(dst) bytes and reports a longer stream as one
// byte more.
func readFull(r io.Reader, dst []byte) (int, error) {
	n, err := io.ReadFull(r, dst)
	if err != nil {
		return n, err
	}
	var one [1]byte
	if m, _ := r.Read(one[:]); m > 0 {
		return n + 1, nil
	}
	return n, nil
}

func (br *blockReader) grow(n int) []byte {
	if cap(br.out) < n {
		br.out = make([]byte, n, n+n/4)
	}
	return br.out[:n]
}

func (br *blockReader) close() {
	if br.zstd != nil {
		br.zstd.Close()
		br.zstd = nil
	}
}
