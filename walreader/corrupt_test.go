package walreader_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

// makeLog writes n PUT mutations (gpid 1.0, decree i, lcd i-1) in batches of
// 3 with a small block threshold, so a file has many blocks; rotate > 0
// splits it into files. It returns the plog directory.
func makeLog(t testing.TB, n int, rotate int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plog")
	w, err := walwriter.Create(dir, walwriter.Options{AppID: 1, PartitionIndex: 0, RotateBytes: rotate, BlockBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	var batch []walreader.Mutation
	for d := 1; d <= n; d++ {
		key := mutation.AppendRawKey(nil, []byte(fmt.Sprintf("hk%04d", d%7)), []byte(fmt.Sprintf("sk%04d", d)))
		val := []byte(strings.Repeat(string(rune('a'+d%26)), 10+d%50))
		batch = append(batch, walreader.Mutation{AppID: 1, Ballot: 1, Decree: int64(d), LastCommittedDecree: int64(d - 1),
			Timestamp: 1_700_000_000_000_000 + int64(d), Updates: []walreader.Update{walwriter.ThriftUpdate(mutation.CodePut, mutation.AppendPut(nil, 0, key, val, 0))}})
		if len(batch) == 3 || d == n {
			if err := w.WriteBatch(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func onlyFile(t testing.TB, dir string) string {
	t.Helper()
	fs, err := walreader.ListDir(dir)
	if err != nil || len(fs) != 1 {
		t.Fatalf("ListDir: %v %v", fs, err)
	}
	return fs[0].Path
}

// rechain recomputes every block CRC of a file after its bodies were edited.
func rechain(data []byte) {
	var crc uint32
	for off := 0; off+walreader.BlockHeaderSize <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[off+4:]))
		body := data[off+16 : off+16+n]
		crc = walreader.CRC32C(crc, body)
		binary.LittleEndian.PutUint32(data[off+8:], crc)
		off += 16 + n
	}
}

func decrees(ms []*walreader.Mutation) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Decree
	}
	return out
}

func TestCorruption(t *testing.T) {
	dir := makeLog(t, 60, 0)
	path := onlyFile(t, dir)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blocks := blocksOf(t, orig)
	if len(blocks) < 8 {
		t.Fatalf("only %d blocks", len(blocks))
	}
	mid := blocks[len(blocks)/2]
	// First mutation of the middle block.
	mutOff := int(mid.Offset) + 16

	cases := []struct {
		name     string
		edit     func(b []byte) []byte
		kind     error  // error without SkipCorrupt
		detail   string // substring of the message
		skipWarn walreader.WarningKind
	}{
		{"crc byte flipped", func(b []byte) []byte { b[mid.Offset+8] ^= 0x01; return b }, walreader.ErrBadCRC, "header says", walreader.WarnSkipped},
		{"body byte flipped", func(b []byte) []byte { b[mid.Offset+16+70] ^= 0x40; return b }, walreader.ErrBadCRC, "chained from", walreader.WarnSkipped},
		{"bad magic mid-file", func(b []byte) []byte { b[mid.Offset] = 0; return b }, walreader.ErrBadMagic, "want 0xDEADBEEF", walreader.WarnSkipped},
		{"huge length mid-file", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[mid.Offset+4:], 0x7FFFFFFF)
			return b
		}, walreader.ErrBadLength, "a block header follows", walreader.WarnSkipped},
		{"negative length", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[mid.Offset+4:], 0xFFFFFFF0)
			return b
		}, walreader.ErrBadLength, "negative", walreader.WarnSkipped},
		{"offset mismatch", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[mutOff+32:], 12345)
			rechain(b)
			return b
		}, walreader.ErrOffsetMismatch, "log_offset 12345, want", walreader.WarnSkipped},
		{"huge update count", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[mutOff+56:], 0x7FFFFFF0)
			rechain(b)
			return b
		}, walreader.ErrBadMutation, "update count", walreader.WarnSkipped},
		{"huge name length", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[mutOff+60:], 0x7FFFFFF0)
			rechain(b)
			return b
		}, walreader.ErrBadMutation, "name length", walreader.WarnSkipped},
		{"huge data length", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[mutOff+64+17+4:], 0x7FFFFFF0)
			rechain(b)
			return b
		}, walreader.ErrBadMutation, "payloads need", walreader.WarnSkipped},
		{"bad header version", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[mutOff:], 7)
			rechain(b)
			return b
		}, walreader.ErrBadMutation, "header version 7", walreader.WarnSkipped},
		{"gpid mismatch", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[mutOff+12:], 9)
			rechain(b)
			return b
		}, walreader.ErrGpidMismatch, "gpid 1.9", walreader.WarnSkipped},
		{"file header start offset", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[24:], 100)
			rechain(b)
			return b
		}, walreader.ErrBadFileHeader, "file name says 0", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.edit(append([]byte(nil), orig...))
			p := filepath.Join(t.TempDir(), "log.1.0")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			good, _, err := readAll(t, []string{p}, walreader.Options{})
			if !errors.Is(err, c.kind) || !errors.Is(err, walreader.ErrCorrupt) {
				t.Fatalf("error %v, want %v", err, c.kind)
			}
			var e *walreader.Error
			if !errors.As(err, &e) || e.File != p || !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("error %q: want an *Error naming %s and %q", err, p, c.detail)
			}
			if c.name != "file header start offset" && e.BlockOffset != mid.Offset {
				t.Errorf("block offset %d, want %d", e.BlockOffset, mid.Offset)
			}
			for i, m := range good {
				if m.Decree != int64(i+1) {
					t.Fatalf("before the error: decree %d at %d", m.Decree, i)
				}
			}
			if c.skipWarn == 0 {
				return
			}
			ms, warns, err := readAll(t, []string{p}, walreader.Options{SkipCorrupt: true})
			if err != nil {
				t.Fatalf("SkipCorrupt: %v", err)
			}
			if len(warns) != 1 || warns[0].Kind != c.skipWarn || warns[0].Bytes <= 0 || warns[0].File != p {
				t.Fatalf("warnings %v", warns)
			}
			// Everything outside the bad block survives: the last decree and
			// all before the bad block.
			if len(ms) < len(good) || ms[len(ms)-1].Decree != 60 || len(ms) >= 60 && c.kind != walreader.ErrBadLength {
				t.Errorf("SkipCorrupt read decrees %v", decrees(ms))
			}
			if c.kind == walreader.ErrBadCRC || c.kind == walreader.ErrBadMagic {
				// Only the mutations of the bad block are lost.
				if warns[0].Offset != mid.Offset || warns[0].Bytes != int64(16+mid.Length) {
					t.Errorf("skipped %d bytes at %d, want %d at %d", warns[0].Bytes, warns[0].Offset, 16+mid.Length, mid.Offset)
				}
			}
		})
	}
}

// TestTornTail truncates the last file at every length within its last
// blocks and at every length of the file header.
func TestTornTail(t *testing.T) {
	dir := makeLog(t, 30, 0)
	path := onlyFile(t, dir)
	orig, _ := os.ReadFile(path)
	blocks := blocksOf(t, orig)
	all, _, err := readAll(t, []string{path}, walreader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	from := int(blocks[len(blocks)-3].Offset)
	lengths := []int{}
	for n := 1; n < 60; n += step {
		lengths = append(lengths, n)
	}
	for n := from; n < len(orig); n += step {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		p := filepath.Join(t.TempDir(), "log.1.0")
		if err := os.WriteFile(p, orig[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		ms, warns, err := readAll(t, []string{p}, walreader.Options{})
		if err != nil {
			t.Fatalf("len %d: %v", n, err)
		}
		// The complete blocks before n survive.
		var complete int64
		for _, b := range blocks {
			if b.Offset+16+int64(b.Length) <= int64(n) {
				complete = b.Offset + 16 + int64(b.Length)
			}
		}
		want := 0
		for _, m := range all {
			if m.FileOffset < complete {
				want++
			}
		}
		if len(ms) != want {
			t.Errorf("len %d: %d mutations, want %d", n, len(ms), want)
		}
		if int64(n) == complete {
			if len(warns) != 0 {
				t.Errorf("len %d (block boundary): warnings %v", n, warns)
			}
			continue
		}
		if len(warns) != 1 || warns[0].Kind != walreader.WarnTornTail || warns[0].Offset != complete || warns[0].Bytes != int64(n)-complete || warns[0].File != p {
			t.Errorf("len %d: warnings %v, want a torn tail at %d", n, warns, complete)
		}
	}
}

func TestMultiFile(t *testing.T) {
	dir := makeLog(t, 90, 1500)
	files, err := walreader.ListDir(dir)
	if err != nil || len(files) < 4 {
		t.Fatalf("files %v %v", files, err)
	}
	// Headers carry the largest earlier decree (storage.md §1.4); names
	// chain start offsets.
	for i, f := range files {
		if f.Index != int32(i+1) || (i > 0 && f.StartOffset != files[i-1].StartOffset+files[i-1].Size) {
			t.Errorf("file %d: %+v", i, f)
		}
	}
	ms, warns, err := readAll(t, []string{dir}, walreader.Options{})
	if err != nil || len(warns) != 0 || len(ms) != 90 {
		t.Fatalf("read: %d mutations, %v, %v", len(ms), warns, err)
	}
	for i, m := range ms {
		if m.Decree != int64(i+1) {
			t.Fatalf("decree %d at %d", m.Decree, i)
		}
	}
	// Files given by name, in any order, read the same.
	var paths []string
	for i := len(files) - 1; i >= 0; i-- {
		paths = append(paths, files[i].Path)
	}
	ms2, _, err := readAll(t, paths, walreader.Options{})
	if err != nil || len(ms2) != 90 {
		t.Fatalf("by name: %d %v", len(ms2), err)
	}
	// FromDecree skips files whose successor's max_decree is below it.
	r, err := walreader.Open([]string{dir}, walreader.Options{FromDecree: 70})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.Files()); n >= len(files) {
		t.Errorf("FromDecree 70 kept all %d files", n)
	}
	from, err := drain(t, r)
	r.Close()
	if err != nil || len(from) != 21 || from[0].Decree != 70 {
		t.Errorf("FromDecree 70: %v %v", decrees(from), err)
	}

	t.Run("gap in index", func(t *testing.T) {
		d := t.TempDir()
		for i, f := range files {
			if i == 1 {
				continue
			}
			copyFile(t, f.Path, filepath.Join(d, filepath.Base(f.Path)))
		}
		_, _, err := readAll(t, []string{d}, walreader.Options{})
		if !errors.Is(err, walreader.ErrGap) || !strings.Contains(err.Error(), "index 3 follows 1") {
			t.Fatalf("err %v", err)
		}
		ms, warns, err := readAll(t, []string{d}, walreader.Options{SkipCorrupt: true})
		if err != nil || len(warns) != 1 || warns[0].Kind != walreader.WarnGap || len(ms) >= 90 {
			t.Fatalf("SkipCorrupt: %d %v %v", len(ms), warns, err)
		}
	})
	t.Run("gap in offset", func(t *testing.T) {
		d := t.TempDir()
		for i, f := range files {
			name := filepath.Base(f.Path)
			if i == 2 {
				name = walwriter.FileName(f.Index, f.StartOffset+1)
			}
			copyFile(t, f.Path, filepath.Join(d, name))
		}
		_, _, err := readAll(t, []string{d}, walreader.Options{})
		if !errors.Is(err, walreader.ErrGap) || !strings.Contains(err.Error(), "start offset") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("torn tail in a middle file", func(t *testing.T) {
		d := t.TempDir()
		for i, f := range files {
			copyFile(t, f.Path, filepath.Join(d, filepath.Base(f.Path)))
			if i == 1 {
				if err := os.Truncate(filepath.Join(d, filepath.Base(f.Path)), f.Size-5); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The shorter file breaks the offset chain first.
		_, _, err := readAll(t, []string{d}, walreader.Options{})
		if !errors.Is(err, walreader.ErrGap) {
			t.Fatalf("err %v", err)
		}
		// As the last file given, it ends the log with a torn tail.
		_, warns, err := readAll(t, []string{filepath.Join(d, filepath.Base(files[0].Path)), filepath.Join(d, filepath.Base(files[1].Path))}, walreader.Options{})
		if err != nil || len(warns) != 1 || warns[0].Kind != walreader.WarnTornTail {
			t.Fatalf("torn tail at the end of the last file given: %v %v", warns, err)
		}
	})
	t.Run("removed and foreign names ignored", func(t *testing.T) {
		d := t.TempDir()
		for _, f := range files {
			copyFile(t, f.Path, filepath.Join(d, filepath.Base(f.Path)))
		}
		copyFile(t, files[0].Path, filepath.Join(d, "log.0.0.removed"))
		os.WriteFile(filepath.Join(d, "log.x.1"), []byte("junk"), 0o644)
		ms, _, err := readAll(t, []string{d}, walreader.Options{})
		if err != nil || len(ms) != 90 {
			t.Fatalf("%d %v", len(ms), err)
		}
	})
}

func TestIncompleteMiddleFile(t *testing.T) {
	dir := makeLog(t, 40, 1500)
	files, _ := walreader.ListDir(dir)
	// Cut the first file and shift the names of the later ones so that the
	// offsets chain again: the cut is now incomplete data mid-log.
	d := t.TempDir()
	cut := int64(7)
	for i, f := range files {
		name := filepath.Base(f.Path)
		if i > 0 {
			name = walwriter.FileName(f.Index, f.StartOffset-cut)
		}
		copyFile(t, f.Path, filepath.Join(d, name))
		if i == 0 {
			os.Truncate(filepath.Join(d, name), f.Size-cut)
		}
	}
	_, _, err := readAll(t, []string{d}, walreader.Options{})
	if !errors.Is(err, walreader.ErrIncomplete) {
		t.Fatalf("err %v, want ErrIncomplete", err)
	}
}

func TestIOErrorIsNotCorrupt(t *testing.T) {
	_, err := walreader.Open([]string{filepath.Join(t.TempDir(), "log.1.0")}, walreader.Options{})
	if err == nil || errors.Is(err, walreader.ErrCorrupt) {
		t.Fatalf("missing file: %v", err)
	}
	data, _ := os.ReadFile(onlyFile(t, makeLog(t, 10, 0)))
	fr, err := walreader.NewFileReader(failingReaderAt{data, 200}, int64(len(data)), "mem", walreader.FileOptions{StartOffset: 0, BufferSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err = fr.Next()
		if err != nil {
			break
		}
	}
	if !errors.Is(err, errDisk) || errors.Is(err, walreader.ErrCorrupt) {
		t.Fatalf("err %v, want the I/O error and not ErrCorrupt", err)
	}
}

var errDisk = errors.New("disk on fire")

type failingReaderAt struct {
	b     []byte
	limit int64
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.limit {
		return 0, errDisk
	}
	return copy(p, f.b[off:]), nil
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
