package sst_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/checkpoint/sst"
	"github.com/dupbridge/dupbridge/internal/sstgen"
)

// TestBadCheckpoints damages copies of a real (ldb-written) checkpoint.
// Each damage must give a clear error naming the file (and, for table
// bytes, the offset), never a panic or a silently shorter result.
func TestBadCheckpoints(t *testing.T) {
	src, _ := build(t, sstgen.Options{Compression: "lz4", Checksum: "xxh3", FormatVersion: 5})
	tests := []struct {
		name   string
		damage func(t *testing.T, dir, table string)
		class  error // nil: check notFound instead
		text   string
	}{
		{"flipped byte in a data block", func(t *testing.T, dir, table string) {
			b := readFile(t, table)
			b[100] ^= 0x01
			writeFile(t, table, b)
		}, sst.ErrCorrupt, "at offset 0: block checksum mismatch (xxh3)"},
		{"truncated table", func(t *testing.T, dir, table string) {
			b := readFile(t, table)
			writeFile(t, table, b[:len(b)-100])
		}, sst.ErrCorrupt, "bad magic"},
		{"non-empty WAL", func(t *testing.T, dir, table string) {
			writeFile(t, filepath.Join(dir, "000099.log"), []byte("unflushed"))
		}, sst.ErrUnsupported, "non-empty WAL"},
		{"missing checkpoint", func(t *testing.T, dir, table string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, nil, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, src)
			table := biggestTable(t, dir)
			tc.damage(t, dir, table)
			err := readCheckpoint(dir)
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.class == nil && !errors.Is(err, fs.ErrNotExist):
				t.Fatalf("got %v, want a not-exist error", err)
			case tc.class != nil && !errors.Is(err, tc.class):
				t.Fatalf("got %v, want %v", err, tc.class)
			case !strings.Contains(err.Error(), tc.text):
				t.Fatalf("got %q, want it to say %q", err, tc.text)
			}
			var fe *sst.FileError
			if tc.class != nil && (!errors.As(err, &fe) || !strings.HasPrefix(fe.File, dir)) {
				t.Fatalf("error %v names no file of %s", err, dir)
			}
		})
	}
}

func readCheckpoint(dir string) error {
	c, err := sst.OpenCheckpoint(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	l := c.Live(sst.LiveOptions{Now: genNow})
	defer l.Close()
	for l.Next() {
	}
	return l.Err()
}

// biggestTable is the first batch's table: the one with most data blocks.
func biggestTable(t *testing.T, dir string) string {
	files, err := sstgen.SSTs(dir)
	if err != nil {
		t.Fatal(err)
	}
	best, size := "", int64(-1)
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() > size {
			best, size = f, st.Size()
		}
	}
	return best
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "checkpoint")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
