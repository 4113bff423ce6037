package walreader_test

import (
	"errors"
	"io"
	"testing"

	"github.com/dupbridge/dupbridge/internal/testfix"
	"github.com/dupbridge/dupbridge/walreader"
)

// sharedFixtures returns ../shared/fixtures relative to the repository root,
// or skips the test when it is absent.
func sharedFixtures(t testing.TB) string { return testfix.SharedOrSkip(t) }

// readAll reads every mutation (cloned) and the warnings.
func readAll(t testing.TB, paths []string, opts walreader.Options) ([]*walreader.Mutation, []walreader.Warning, error) {
	t.Helper()
	r, err := walreader.Open(paths, opts)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var out []*walreader.Mutation
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, r.Warnings(), nil
		}
		if err != nil {
			return out, r.Warnings(), err
		}
		out = append(out, m.Clone())
	}
}

func drain(t testing.TB, src walreader.Source) ([]*walreader.Mutation, error) {
	t.Helper()
	var out []*walreader.Mutation
	for {
		m, err := src.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m.Clone())
	}
}

type blockInfo struct {
	Offset int64
	Length int32
	CRC    uint32
}

// blocksOf lists the blocks of a file, failing on any error.
func blocksOf(t testing.TB, data []byte) []blockInfo {
	t.Helper()
	it := walreader.NewBlockIterator(bytesReaderAt(data), int64(len(data)), "mem", 0)
	var out []blockInfo
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("blocks: %v", err)
		}
		out = append(out, blockInfo{b.Offset, b.Header.Length, b.Header.CRC})
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
