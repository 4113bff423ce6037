package walreader

import (
	"encoding/binary"
	"errors"
	"io"
)

// File header constants (storage.md §1.4).
const (
	FileHeaderMagic   = 0xDEADBEEF
	FileHeaderVersion = 1
	fileHeaderFixed   = 20 // magic, version, start_global_offset, count
	replicaInfoSize   = 24 // gpid, max_decree, valid_start_offset
)

// ReplicaLogInfo is one entry of the file header's map (storage.md §1.4).
type ReplicaLogInfo struct {
	AppID            int32
	PartitionIndex   int32
	MaxDecree        int64 // largest decree in all previous files
	ValidStartOffset int64
}

// FileHeader is the body of block 0 (storage.md §1.4).
type FileHeader struct {
	Version           int32
	StartGlobalOffset int64
	Replicas          []ReplicaLogInfo
}

// ParseFileHeader decodes a block 0 body and returns the header and its
// size; bytes after it, if any, are mutations (§1.9 step 3).
func ParseFileHeader(body []byte) (FileHeader, int, error) {
	le := binary.LittleEndian
	if len(body) < fileHeaderFixed {
		return FileHeader{}, 0, corrupt("", -1, -1, ErrBadFileHeader, "block 0 body is %d bytes, want at least %d", len(body), fileHeaderFixed)
	}
	if m := le.Uint32(body); m != FileHeaderMagic {
		return FileHeader{}, 0, corrupt("", -1, -1, ErrBadFileHeader, "file magic 0x%08X, want 0x%08X", m, uint32(FileHeaderMagic))
	}
	h := FileHeader{Version: int32(le.Uint32(body[4:])), StartGlobalOffset: int64(le.Uint64(body[8:]))}
	n := int32(le.Uint32(body[16:]))
	if n < 0 || int64(n)*replicaInfoSize > int64(len(body)-fileHeaderFixed) {
		return FileHeader{}, 0, corrupt("", -1, -1, ErrBadFileHeader, "map count %d does not fit in %d bytes", n, len(body)-fileHeaderFixed)
	}
	p := fileHeaderFixed
	h.Replicas = make([]ReplicaLogInfo, n)
	for i := range h.Replicas {
		h.Replicas[i] = ReplicaLogInfo{
			AppID:            int32(le.Uint32(body[p:])),
			PartitionIndex:   int32(le.Uint32(body[p+4:])),
			MaxDecree:        int64(le.Uint64(body[p+8:])),
			ValidStartOffset: int64(le.Uint64(body[p+16:])),
		}
		p += replicaInfoSize
	}
	return h, p, nil
}

// AppendFileHeader appends the encoding of h (a block 0 body).
func AppendFileHeader(dst []byte, h FileHeader) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint32(dst, FileHeaderMagic)
	dst = le.AppendUint32(dst, uint32(h.Version))
	dst = le.AppendUint64(dst, uint64(h.StartGlobalOffset))
	dst = le.AppendUint32(dst, uint32(len(h.Replicas)))
	for _, r := range h.Replicas {
		dst = le.AppendUint32(dst, uint32(r.AppID))
		dst = le.AppendUint32(dst, uint32(r.PartitionIndex))
		dst = le.AppendUint64(dst, uint64(r.MaxDecree))
		dst = le.AppendUint64(dst, uint64(r.ValidStartOffset))
	}
	return dst
}

// MutationIterator decodes the mutations of one block body, verifying each
// log_offset against its global position (storage.md §1.9 step 4).
type MutationIterator struct {
	body       []byte
	pos        int
	global     int64 // global offset of body[0]
	fileOffset int64 // file offset of body[0]
	blockOff   int64
	name       string
}

// Reset points the iterator at body, whose first byte is at the given
// global and file offsets; blockOffset is the block header's file offset.
func (mi *MutationIterator) Reset(body []byte, global, fileOffset, blockOffset int64, name string) {
	*mi = MutationIterator{body: body, global: global, fileOffset: fileOffset, blockOff: blockOffset, name: name}
}

// Next decodes the next mutation into m; false at the end of the body.
func (mi *MutationIterator) Next(m *Mutation) (bool, error) {
	if mi.pos >= len(mi.body) {
		return false, nil
	}
	off := mi.fileOffset + int64(mi.pos)
	n, err := DecodeMutation(mi.body[mi.pos:], m)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.File, e.BlockOffset, e.Offset = mi.name, mi.blockOff, off
		}
		return false, err
	}
	if want := mi.global + int64(mi.pos); m.LogOffset != want {
		return false, corrupt(mi.name, mi.blockOff, off, ErrOffsetMismatch, "log_offset %d, want %d", m.LogOffset, want)
	}
	m.File, m.FileOffset, m.BlockOffset = mi.name, off, mi.blockOff
	mi.pos += n
	return true, nil
}

// soundBody reports whether the whole body decodes as mutations whose
// log_offsets match (used to accept a resynchronisation candidate).
func soundBody(body []byte, global int64) bool {
	var m Mutation
	var mi MutationIterator
	mi.Reset(body, global, 0, 0, "")
	n := 0
	for {
		ok, err := mi.Next(&m)
		if err != nil {
			return false
		}
		if !ok {
			return n > 0
		}
		n++
	}
}

// FileReader reads the mutations of one plog file: BlockIterator plus
// MutationIterator, with the file header checks of storage.md §1.9 step 3.
type FileReader struct {
	name        string
	startOffset int64
	blocks      *BlockIterator
	muts        MutationIterator
	header      FileHeader
	m           Mutation
	skipCorrupt bool
	warn        func(Warning)
	err         error
}

// FileOptions configure a FileReader.
type FileOptions struct {
	// StartOffset is the global offset the file name promises; the header
	// must agree. Negative: take the header's value.
	StartOffset int64
	// SkipCorrupt resynchronises after bad data instead of failing; each
	// skip is reported to Warn.
	SkipCorrupt bool
	Warn        func(Warning)
	// BufferSize is the initial read buffer (0: 1 MiB).
	BufferSize int
}

// NewFileReader reads the file header of r (size bytes) and returns a reader
// positioned at the first mutation. A file too short to hold its header
// returns an error wrapping ErrTornTail.
func NewFileReader(r io.ReaderAt, size int64, name string, opts FileOptions) (*FileReader, error) {
	f := &FileReader{name: name, startOffset: opts.StartOffset, blocks: NewBlockIterator(r, size, name, opts.BufferSize),
		skipCorrupt: opts.SkipCorrupt, warn: opts.Warn}
	b, err := f.blocks.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Offset: 0, Err: ErrTornTail, Detail: "empty file"}
		}
		return nil, err
	}
	h, n, err := ParseFileHeader(b.Body)
	if err != nil {
		e := err.(*Error)
		e.File, e.BlockOffset, e.Offset = name, 0, BlockHeaderSize
		return nil, e
	}
	if f.startOffset >= 0 && h.StartGlobalOffset != f.startOffset {
		return nil, corrupt(name, 0, BlockHeaderSize+8, ErrBadFileHeader, "start_global_offset %d, file name says %d", h.StartGlobalOffset, f.startOffset)
	}
	f.startOffset = h.StartGlobalOffset
	f.header = h
	f.muts.Reset(b.Body[n:], f.startOffset+BlockHeaderSize+int64(n), BlockHeaderSize+int64(n), 0, name)
	return f, nil
}

// Header is the file header.
func (f *FileReader) Header() FileHeader { return f.header }

// Next returns the next mutation, valid until the next call; io.EOF at the
// end of the file. A torn tail returns an *Error wrapping ErrTornTail.
func (f *FileReader) Next() (*Mutation, error) {
	if f.err != nil {
		return nil, f.err
	}
	for {
		ok, err := f.muts.Next(&f.m)
		if err == nil && ok && len(f.header.Replicas) == 1 {
			if r := f.header.Replicas[0]; f.m.AppID != r.AppID || f.m.PartitionIndex != r.PartitionIndex {
				err = corrupt(f.name, f.m.BlockOffset, f.m.FileOffset+8, ErrGpidMismatch, "mutation gpid %d.%d, file header %d.%d",
					f.m.AppID, f.m.PartitionIndex, r.AppID, r.PartitionIndex)
			}
		}
		if err != nil {
			if !f.skipCorrupt {
				f.err = err
				return nil, err
			}
			// The block verified but its contents do not: drop the rest of
			// it, from the bad mutation on.
			at := f.muts.fileOffset + int64(f.muts.pos)
			var e *Error
			if errors.As(err, &e) && e.Offset >= f.muts.fileOffset {
				at = e.Offset
				if ok { // the gpid check failed after the mutation was consumed
					at = f.m.FileOffset
				}
			}
			end := f.muts.fileOffset + int64(len(f.muts.body))
			f.report(Warning{Kind: WarnSkipped, File: f.name, Offset: at, Bytes: end - at, Err: err})
			f.muts.pos = len(f.muts.body)
			continue
		}
		if ok {
			return &f.m, nil
		}
		b, err := f.blocks.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, ErrTornTail) || !errors.Is(err, ErrCorrupt) || !f.skipCorrupt {
				f.err = err
				return nil, err
			}
			at := f.blocks.Offset()
			skipped, rerr := f.blocks.Resync(func(off int64, body []byte) bool {
				return soundBody(body, f.startOffset+off+BlockHeaderSize)
			})
			f.report(Warning{Kind: WarnSkipped, File: f.name, Offset: at, Bytes: skipped, Err: err})
			if rerr != nil && !errors.Is(rerr, io.EOF) {
				f.err = rerr
				return nil, rerr
			}
			continue
		}
		f.muts.Reset(b.Body, f.startOffset+b.Offset+BlockHeaderSize, b.Offset+BlockHeaderSize, b.Offset, f.name)
	}
}

func (f *FileReader) report(w Warning) {
	if f.warn != nil {
		f.warn(w)
	}
}
