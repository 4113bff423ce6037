package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Reader reads durable records in LSN order from a starting LSN. It is not
// safe for concurrent use; several Readers may read one Spool.
type Reader struct {
	s    *Spool
	next uint64
	f    *os.File
	br   *bufio.Reader
	seg  uint64 // first LSN of the open segment
	path string
	off  int64
	buf  []byte
}

// NewReader returns a Reader whose first record is from. from must not be
// below the first record still on disk; records up to Acked are there at
// least until Retain passes.
func (s *Spool) NewReader(from uint64) *Reader {
	return &Reader{s: s, next: max(from, 1)}
}

// Next returns the next record, or io.EOF when it is not durable yet (wait
// on Spool.Notify, then call again). payload is valid until the next call.
func (r *Reader) Next() (lsn uint64, payload []byte, err error) {
	r.s.mu.Lock()
	if r.next > r.s.durable {
		r.s.mu.Unlock()
		return 0, nil, io.EOF
	}
	var path string
	var first uint64
	for _, sg := range r.s.segs {
		if sg.first <= r.next && r.next <= sg.last {
			path, first = sg.path, sg.first
			break
		}
	}
	r.s.mu.Unlock()
	if path == "" {
		return 0, nil, fmt.Errorf("spool: LSN %d is no longer in %s (already deleted)", r.next, r.s.o.Dir)
	}
	if r.f == nil || r.seg != first {
		if err := r.open(path, first); err != nil {
			return 0, nil, err
		}
	}
	for {
		lsn, payload, err := r.read()
		if err != nil {
			return 0, nil, err
		}
		if lsn == r.next {
			r.next++
			return lsn, payload, nil
		}
		if lsn > r.next {
			return 0, nil, fmt.Errorf("%w: %s offset %d: LSN %d where %d was expected", ErrCorrupt, r.path, r.off, lsn, r.next)
		}
	}
}

func (r *Reader) open(path string, first uint64) error {
	r.Close()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("spool: opening %s: %w", path, err)
	}
	r.f, r.path, r.seg, r.off = f, path, first, 0
	if r.br == nil {
		r.br = bufio.NewReaderSize(f, 256<<10)
	} else {
		r.br.Reset(f)
	}
	return nil
}

// read reads the record at r.off.
func (r *Reader) read() (uint64, []byte, error) {
	var h [HeaderLen]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return 0, nil, r.damage(err)
	}
	n := binary.LittleEndian.Uint32(h[4:8])
	if n > MaxPayload {
		return 0, nil, fmt.Errorf("%w: %s offset %d: %w", ErrCorrupt, r.path, r.off, errTooLarge)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		return 0, nil, r.damage(err)
	}
	c := crc32.Update(crc32.Checksum(h[4:], castagnoli), castagnoli, r.buf)
	if c != binary.LittleEndian.Uint32(h[0:4]) {
		return 0, nil, fmt.Errorf("%w: %s offset %d: %w", ErrCorrupt, r.path, r.off, errChecksum)
	}
	r.off += int64(HeaderLen) + int64(n)
	return binary.LittleEndian.Uint64(h[8:16]), r.buf, nil
}

func (r *Reader) damage(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errShort
	}
	return fmt.Errorf("%w: %s offset %d: %w", ErrCorrupt, r.path, r.off, err)
}

// Close releases the open segment file.
func (r *Reader) Close() {
	if r.f != nil {
		_ = r.f.Close()
		r.f = nil
	}
}
