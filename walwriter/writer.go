package walwriter

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
)

// AppendMutation appends the plog encoding of m (storage.md §1.6) with the
// given log offset: the 56-byte header (version 0 unless m.HeaderVersion is
// set; m's gpid, ballot, decree, last_committed_decree, timestamp), the
// update count, all descriptors, then all payloads. An update with a nil
// Name is written under its Code's name.
func AppendMutation(dst []byte, m *walreader.Mutation, logOffset int64) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint64(dst, uint64(m.HeaderVersion))
	dst = le.AppendUint32(dst, uint32(m.AppID))
	dst = le.AppendUint32(dst, uint32(m.PartitionIndex))
	dst = le.AppendUint64(dst, uint64(m.Ballot))
	dst = le.AppendUint64(dst, uint64(m.Decree))
	dst = le.AppendUint64(dst, uint64(logOffset))
	dst = le.AppendUint64(dst, uint64(m.LastCommittedDecree))
	dst = le.AppendUint64(dst, uint64(m.Timestamp))
	dst = le.AppendUint32(dst, uint32(len(m.Updates)))
	for i := range m.Updates {
		u := &m.Updates[i]
		if u.Name == nil {
			name := u.Code.Name()
			dst = le.AppendUint32(dst, uint32(len(name)))
			dst = append(dst, name...)
		} else {
			dst = le.AppendUint32(dst, uint32(len(u.Name)))
			dst = append(dst, u.Name...)
		}
		dst = le.AppendUint32(dst, uint32(u.SerializationType))
		dst = le.AppendUint32(dst, uint32(len(u.Data)))
	}
	for i := range m.Updates {
		dst = append(dst, m.Updates[i].Data...)
	}
	return dst
}

// MutationSize is the encoded size of m (storage.md §1.6).
func MutationSize(m *walreader.Mutation) int {
	n := walreader.MutationHeaderSize + 4
	for i := range m.Updates {
		u := &m.Updates[i]
		nl := len(u.Name)
		if u.Name == nil {
			nl = len(u.Code.Name())
		}
		n += 12 + nl + len(u.Data)
	}
	return n
}

// EmptyWrite returns the update of an empty write (storage.md §1.8).
func EmptyWrite() walreader.Update {
	return walreader.Update{Code: mutation.CodeWriteEmpty, SerializationType: walreader.SerializeInvalid}
}

// ThriftUpdate returns an update carrying a thrift-binary payload.
func ThriftUpdate(code mutation.Code, payload []byte) walreader.Update {
	return walreader.Update{Code: code, SerializationType: walreader.SerializeThriftBinary, Data: payload}
}

// FileName is the name of plog file index starting at global offset start.
func FileName(index int32, start int64) string {
	return "log." + strconv.FormatInt(int64(index), 10) + "." + strconv.FormatInt(start, 10)
}

// Options configure a Writer.
type Options struct {
	AppID, PartitionIndex int32
	// FirstIndex is the index of the first file (0: 1).
	FirstIndex int32
	// StartOffset is the global offset of the first file (normally 0).
	StartOffset int64
	// MaxDecree is the first file header's max_decree (largest decree in
	// earlier files, storage.md §1.4); later files get the running maximum.
	MaxDecree int64
	// ValidStartOffset is written into every file header (normally 0).
	ValidStartOffset int64
	// RotateBytes: when a batch starts and the current file is at least
	// this big, continue in a new file (storage.md §1.1). 0: never.
	RotateBytes int64
	// BlockBytes: a new block starts before a mutation once the current
	// block, header included, is larger than this (0: 1 MiB, §1.5).
	BlockBytes int
	// FileName, if set, names the first file instead of FileName(...)
	// (used to write the captured fixtures under their test names).
	FileName string
}

// Writer writes one replica's plog files into a directory.
type Writer struct {
	dir       string
	opts      Options
	f         *os.File
	bw        *bufio.Writer
	index     int32
	start     int64 // global offset of the current file
	size      int64 // bytes in the current file
	crc       uint32
	maxDecree int64
	files     []string
	buf       []byte
	blocks    []int // body start positions within buf, one per block
}

// Create makes dir (if needed) and opens the first file.
func Create(dir string, opts Options) (*Writer, error) {
	if opts.FirstIndex == 0 {
		opts.FirstIndex = 1
	}
	if opts.BlockBytes <= 0 {
		opts.BlockBytes = walreader.MaxBlockBodyTarget
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("walwriter: %w", err)
	}
	w := &Writer{dir: dir, opts: opts, index: opts.FirstIndex, start: opts.StartOffset, maxDecree: opts.MaxDecree}
	name := opts.FileName
	if name == "" {
		name = FileName(w.index, w.start)
	}
	if err := w.openFile(name); err != nil {
		return nil, err
	}
	return w, nil
}

// openFile creates the next file and writes block 0, the file header (§1.10 step 2).
func (w *Writer) openFile(name string) error {
	p := filepath.Join(w.dir, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("walwriter: %w", err)
	}
	w.f = f
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, 256<<10)
	} else {
		w.bw.Reset(f)
	}
	w.files = append(w.files, p)
	w.size, w.crc = 0, 0
	body := walreader.AppendFileHeader(nil, walreader.FileHeader{
		Version:           walreader.FileHeaderVersion,
		StartGlobalOffset: w.start,
		Replicas: []walreader.ReplicaLogInfo{{AppID: w.opts.AppID, PartitionIndex: w.opts.PartitionIndex,
			MaxDecree: w.maxDecree, ValidStartOffset: w.opts.ValidStartOffset}},
	})
	return w.writeBlock(body)
}

func (w *Writer) writeBlock(body []byte) error {
	w.crc = walreader.CRC32C(w.crc, body)
	var hdr [walreader.BlockHeaderSize]byte
	walreader.AppendBlockHeader(hdr[:0], walreader.BlockHeader{Magic: walreader.BlockMagic, Length: int32(len(body)), CRC: w.crc, LocalOffset: uint32(w.size)})
	if _, err := w.bw.Write(hdr[:]); err != nil {
		return fmt.Errorf("walwriter: %s: %w", w.f.Name(), err)
	}
	if _, err := w.bw.Write(body); err != nil {
		return fmt.Errorf("walwriter: %s: %w", w.f.Name(), err)
	}
	w.size += int64(walreader.BlockHeaderSize + len(body))
	return nil
}

// rotate closes the current file and opens the next one (§1.10 step 4).
func (w *Writer) rotate() error {
	if err := w.closeFile(); err != nil {
		return err
	}
	w.index++
	w.start += w.size
	return w.openFile(FileName(w.index, w.start))
}

func (w *Writer) closeFile() error {
	if w.f == nil {
		return nil
	}
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("walwriter: %w", err)
	}
	return nil
}

// WriteBatch writes ms as one disk write of Pegasus: one or more blocks,
// a new block starting before a mutation once the current one exceeds
// Options.BlockBytes (§1.5). Each mutation's log_offset is set from its
// position; gpid, ballot, decree and the rest are written as given. The
// batch goes to a new file first if the current one has reached
// Options.RotateBytes.
func (w *Writer) WriteBatch(ms []walreader.Mutation) error {
	if w.f == nil {
		return fmt.Errorf("walwriter: write after Close")
	}
	if len(ms) == 0 {
		return nil
	}
	if w.opts.RotateBytes > 0 && w.size >= w.opts.RotateBytes {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	// Lay the batch out: blocks[i] is the body start of block i in buf.
	w.buf, w.blocks = w.buf[:0], w.blocks[:0]
	pos := w.size // file offset of the current block header
	blockStart := 0
	for i := range ms {
		m := &ms[i]
		if i == 0 || walreader.BlockHeaderSize+len(w.buf)-blockStart > w.opts.BlockBytes {
			if i > 0 {
				pos += int64(walreader.BlockHeaderSize + len(w.buf) - blockStart)
			}
			blockStart = len(w.buf)
			w.blocks = append(w.blocks, blockStart)
		}
		logOff := w.start + pos + walreader.BlockHeaderSize + int64(len(w.buf)-blockStart)
		w.buf = AppendMutation(w.buf, m, logOff)
		if m.Decree > w.maxDecree {
			w.maxDecree = m.Decree
		}
	}
	for i, s := range w.blocks {
		e := len(w.buf)
		if i+1 < len(w.blocks) {
			e = w.blocks[i+1]
		}
		if err := w.writeBlock(w.buf[s:e]); err != nil {
			return err
		}
	}
	return nil
}

// Flush writes buffered bytes to the file.
func (w *Writer) Flush() error {
	if w.f == nil {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("walwriter: %w", err)
	}
	return nil
}

// Close flushes and closes the current file.
func (w *Writer) Close() error { return w.closeFile() }

// Files lists the paths written, in order.
func (w *Writer) Files() []string { return w.files }

// EndOffset is the global offset just past the last byte written.
func (w *Writer) EndOffset() int64 { return w.start + w.size }

// FileSize is the size of the current file.
func (w *Writer) FileSize() int64 { return w.size }

// MaxDecree is the largest decree written so far (or Options.MaxDecree).
func (w *Writer) MaxDecree() int64 { return w.maxDecree }
