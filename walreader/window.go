package walreader

import (
	"errors"
	"io"
)

// window is a reusable read buffer over an io.ReaderAt: it holds file bytes
// [start, start+len(data)) and refills with large reads, so small blocks
// cost no system call each and a block that fits is returned without a copy.
// It grows only to the largest span asked for, which callers bound by the
// file size first.
type window struct {
	r     io.ReaderAt
	size  int64
	start int64
	data  []byte
	buf   []byte
}

const defaultWindow = 1 << 20

func newWindow(r io.ReaderAt, size int64, capacity int) *window {
	if capacity <= 0 {
		capacity = defaultWindow
	}
	if int64(capacity) > size && size >= 0 {
		capacity = int(size)
	}
	if capacity < 64 {
		capacity = 64
	}
	return &window{r: r, size: size, buf: make([]byte, capacity)}
}

// get returns file bytes [off, off+n); the caller guarantees off+n <= size.
// The slice is valid until the next call.
func (w *window) get(off int64, n int) ([]byte, error) {
	if off >= w.start && off+int64(n) <= w.start+int64(len(w.data)) {
		p := off - w.start
		return w.data[p : p+int64(n)], nil
	}
	if n > len(w.buf) {
		// Grow to the span asked for; keep it for later blocks of this size.
		w.buf = make([]byte, n+n/8)
		w.data = nil
	}
	// Keep what is already buffered from off on, then fill the rest.
	keep := 0
	if off >= w.start && off < w.start+int64(len(w.data)) {
		keep = copy(w.buf, w.data[off-w.start:])
	}
	want := int64(len(w.buf))
	if rem := w.size - off; rem < want {
		want = rem
	}
	m, err := w.r.ReadAt(w.buf[keep:want], off+int64(keep))
	if err != nil && !(errors.Is(err, io.EOF) && keep+m >= n) {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the file shrank under us
		}
		w.data = nil
		return nil, err
	}
	w.start = off
	w.data = w.buf[:keep+m]
	if len(w.data) < n {
		return nil, io.ErrUnexpectedEOF
	}
	return w.data[:n], nil
}
