package walreader

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Block framing constants (storage.md §1.3, §1.5).
const (
	BlockHeaderSize = 16
	BlockMagic      = 0xDEADBEEF
	// MaxBlockBodyTarget is the size past which Pegasus starts a new block
	// before appending the next mutation (storage.md §1.5).
	MaxBlockBodyTarget = 1 << 20
)

// castagnoli is the CRC-32C table of the block checksum (storage.md §1.3).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C continues the running block checksum crc over b (storage.md §1.3).
func CRC32C(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// BlockHeader is the 16-byte little-endian log_block_header (storage.md §1.3).
type BlockHeader struct {
	Magic       uint32
	Length      int32  // body bytes, header excluded
	CRC         uint32 // running CRC-32C including this body
	LocalOffset uint32 // file offset of this header; written, never checked by Pegasus
}

// ParseBlockHeader decodes a block header from the first 16 bytes of b. It
// checks nothing but the size of b.
func ParseBlockHeader(b []byte) (BlockHeader, bool) {
	if len(b) < BlockHeaderSize {
		return BlockHeader{}, false
	}
	return BlockHeader{
		Magic:       binary.LittleEndian.Uint32(b[0:]),
		Length:      int32(binary.LittleEndian.Uint32(b[4:])),
		CRC:         binary.LittleEndian.Uint32(b[8:]),
		LocalOffset: binary.LittleEndian.Uint32(b[12:]),
	}, true
}

// AppendBlockHeader appends the encoding of h.
func AppendBlockHeader(dst []byte, h BlockHeader) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, h.Magic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.Length))
	dst = binary.LittleEndian.AppendUint32(dst, h.CRC)
	return binary.LittleEndian.AppendUint32(dst, h.LocalOffset)
}

// Block is one verified block. Body aliases the iterator's buffer and is
// valid until the next call to Next.
type Block struct {
	Offset int64 // file offset of the header
	Header BlockHeader
	Body   []byte
}

// BlockIterator walks the blocks of one plog file, verifying the magic, the
// length against the bytes left and the chained CRC of every block
// (storage.md §1.3, §1.9 step 2). It reads through one reused buffer.
type BlockIterator struct {
	name string
	w    *window
	size int64
	off  int64  // file offset of the next header
	crc  uint32 // running CRC after the last good block
	blk  Block

	// After a corrupt block: the CRC stored in its header (when its header
	// was readable), a further chain start to try when resynchronising.
	badCRC   uint32
	badCRCOK bool
	// trustNext: Resync accepted the next block on its structure; take its
	// stored CRC as the chain value.
	trustNext bool
}

// NewBlockIterator returns an iterator over the size bytes of r. name is
// used in errors. bufSize is the initial buffer size (0: 1 MiB).
func NewBlockIterator(r io.ReaderAt, size int64, name string, bufSize int) *BlockIterator {
	return &BlockIterator{name: name, w: newWindow(r, size, bufSize), size: size}
}

// Offset is the file offset of the next block header.
func (it *BlockIterator) Offset() int64 { return it.off }

// CRC is the running checksum after the last good block.
func (it *BlockIterator) CRC() uint32 { return it.crc }

// Next returns the next block. At the clean end of the file it returns
// io.EOF. When the data ends inside a block it returns an *Error wrapping
// ErrTornTail (Offset = the start of that block) unless a valid block header
// follows later in the file, which shows the length was corrupt
// (ErrBadLength). Other malformed data yields an *Error wrapping ErrCorrupt;
// the iterator then stays at the bad block, and Resync may be called.
func (it *BlockIterator) Next() (*Block, error) {
	off := it.off
	rem := it.size - off
	if rem <= 0 {
		return nil, io.EOF
	}
	if rem < BlockHeaderSize {
		return nil, &Error{File: it.name, BlockOffset: off, Offset: off, Err: ErrTornTail,
			Detail: fmt.Sprintf("incomplete block header: %d of 16 bytes", rem)}
	}
	hb, err := it.w.get(off, BlockHeaderSize)
	if err != nil {
		return nil, ioErr(it.name, off, err)
	}
	h, _ := ParseBlockHeader(hb)
	it.badCRCOK = false
	if h.Magic != BlockMagic {
		return nil, corrupt(it.name, off, off, ErrBadMagic, "want 0x%08X, got 0x%08X", uint32(BlockMagic), h.Magic)
	}
	it.badCRC, it.badCRCOK = h.CRC, true
	if h.Length < 0 {
		return nil, corrupt(it.name, off, off+4, ErrBadLength, "negative block length %d", h.Length)
	}
	if int64(h.Length) > rem-BlockHeaderSize {
		// A torn write leaves a prefix of the block; a later block header
		// (magic and matching local_offset) means the length itself is bad.
		if p, ok, err := it.scanHeader(off + 1); err != nil {
			return nil, err
		} else if ok {
			return nil, corrupt(it.name, off, off+4, ErrBadLength,
				"block length %d exceeds the %d bytes left, but a block header follows at offset %d", h.Length, rem-BlockHeaderSize, p)
		}
		return nil, &Error{File: it.name, BlockOffset: off, Offset: off, Err: ErrTornTail,
			Detail: fmt.Sprintf("incomplete block body: %d of %d bytes", rem-BlockHeaderSize, h.Length)}
	}
	body, err := it.w.get(off+BlockHeaderSize, int(h.Length))
	if err != nil {
		return nil, ioErr(it.name, off+BlockHeaderSize, err)
	}
	if it.trustNext {
		it.trustNext = false
	} else if got := CRC32C(it.crc, body); got != h.CRC {
		return nil, corrupt(it.name, off, off+8, ErrBadCRC, "header says 0x%08X, body chained from 0x%08X gives 0x%08X", h.CRC, it.crc, got)
	}
	it.crc = h.CRC
	it.off = off + BlockHeaderSize + int64(h.Length)
	it.blk = Block{Offset: off, Header: h, Body: body}
	return &it.blk, nil
}

// Resync skips forward from the bad block at Offset to the next block that
// verifies and returns the number of bytes skipped; io.EOF when none does
// (the rest of the file is then skipped: see Offset). A candidate verifies
// when its body's CRC chains from the last good block, from the bad block's
// stored CRC (only the bad body was damaged) or from 0 (fresh start), or
// when accept (if not nil) says its body is structurally sound (for plog
// blocks: every mutation's log_offset matches) and its local_offset matches
// its position. The chain continues from the candidate's stored CRC.
func (it *BlockIterator) Resync(accept func(off int64, body []byte) bool) (int64, error) {
	from := it.off
	starts := []uint32{it.crc, 0}
	if it.badCRCOK {
		starts = append(starts, it.badCRC)
	}
	for p := from + 1; p+BlockHeaderSize <= it.size; p++ {
		q, ok, err := it.scanMagic(p)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		p = q
		hb, err := it.w.get(p, BlockHeaderSize)
		if err != nil {
			return 0, ioErr(it.name, p, err)
		}
		h, _ := ParseBlockHeader(hb)
		if h.Length < 0 || int64(h.Length) > it.size-p-BlockHeaderSize {
			continue
		}
		body, err := it.w.get(p+BlockHeaderSize, int(h.Length))
		if err != nil {
			return 0, ioErr(it.name, p, err)
		}
		for _, s := range starts {
			if CRC32C(s, body) == h.CRC {
				// Next re-reads the block and verifies it from s.
				it.crc, it.off = s, p
				return p - from, nil
			}
		}
		if accept != nil && int64(h.LocalOffset) == p && accept(p, body) {
			it.trustNext, it.off = true, p
			return p - from, nil
		}
	}
	it.off = it.size
	return it.size - from, io.EOF
}

// scanMagic finds the next offset >= p holding the block magic.
func (it *BlockIterator) scanMagic(p int64) (int64, bool, error) {
	const chunk = 64 << 10
	var magic = [4]byte{0xEF, 0xBE, 0xAD, 0xDE}
	for p+BlockHeaderSize <= it.size {
		n := int64(chunk)
		if it.size-p < n {
			n = it.size - p
		}
		b, err := it.w.get(p, int(n))
		if err != nil {
			return 0, false, ioErr(it.name, p, err)
		}
		for i := 0; i+4 <= len(b); i++ {
			if b[i] == magic[0] && b[i+1] == magic[1] && b[i+2] == magic[2] && b[i+3] == magic[3] {
				if p+int64(i)+BlockHeaderSize <= it.size {
					return p + int64(i), true, nil
				}
				return 0, false, nil
			}
		}
		if n < 4 {
			break
		}
		p += n - 3
	}
	return 0, false, nil
}

// scanHeader finds a block header at or after p whose local_offset equals
// its own position: strong evidence of a real block.
func (it *BlockIterator) scanHeader(p int64) (int64, bool, error) {
	for {
		q, ok, err := it.scanMagic(p)
		if err != nil || !ok {
			return 0, false, err
		}
		hb, err := it.w.get(q, BlockHeaderSize)
		if err != nil {
			return 0, false, ioErr(it.name, q, err)
		}
		h, _ := ParseBlockHeader(hb)
		if int64(h.LocalOffset) == q && h.Length >= 0 {
			return q, true, nil
		}
		p = q + 1
	}
}
