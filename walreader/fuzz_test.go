package walreader_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

// The seed corpora in testdata/fuzz/Fuzz*/ are derived from the fixtures
// walwriter re-creates (not copies of the captured files) and a small
// generated log; TestFuzzSeeds checks they are what seedInputs makes, and
// rewrites them with DUPBRIDGE_UPDATE_FUZZ_SEEDS=1.

func seedFiles(t testing.TB) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	out := map[string][]byte{}
	for _, fx := range walwriter.Fixtures() {
		p, err := walwriter.WriteFixture(dir, fx.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(fx.Name, "log.1.0.")], _ = os.ReadFile(p)
	}
	out["generated"], _ = os.ReadFile(onlyFile(t, makeLog(t, 12, 0)))
	return out
}

// seedInputs returns, per fuzz target, named corpus entries.
func seedInputs(t testing.TB) map[string]map[string][]any {
	files := seedFiles(t)
	block := map[string][]any{}
	reader := map[string][]any{}
	mut := map[string][]any{}
	for name, data := range files {
		// Whole re-created fixtures would equal the captured files; their
		// seeds are altered (torn, flipped) or cut into blocks instead.
		if name == "generated" {
			block[name] = []any{data}
			reader[name] = []any{data, false}
		}
		block[name+"_torn"] = []any{data[:len(data)-7]}
		reader[name+"_torn"] = []any{data[:len(data)-50], false}
		flipped := append([]byte(nil), data...)
		flipped[len(flipped)/2] ^= 0x20
		reader[name+"_flipped_skip"] = []any{flipped, true}
		// Each mutation on its own.
		it := walreader.NewBlockIterator(bytes.NewReader(data), int64(len(data)), name, 0)
		for i := 0; ; i++ {
			b, err := it.Next()
			if err != nil {
				break
			}
			if i > 0 && i < 4 {
				mut[fmt.Sprintf("%s_block%d", name, i)] = []any{b.Body}
			}
		}
	}
	return map[string]map[string][]any{"FuzzBlock": block, "FuzzReader": reader, "FuzzMutation": mut}
}

func corpusFile(args []any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case bool:
			fmt.Fprintf(&b, "bool(%v)\n", v)
		}
	}
	return []byte(b.String())
}

func TestFuzzSeeds(t *testing.T) {
	update := os.Getenv("DUPBRIDGE_UPDATE_FUZZ_SEEDS") == "1"
	for target, entries := range seedInputs(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		if update {
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, args := range entries {
			p := filepath.Join(dir, name)
			want := corpusFile(args)
			if update {
				if err := os.WriteFile(p, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: stale or missing seed (rerun with DUPBRIDGE_UPDATE_FUZZ_SEEDS=1): %v", p, err)
			}
		}
	}
}

// FuzzBlock: the block iterator never panics, returns bodies of the stated
// length, and fails only with *Error (the input is in memory: no I/O error).
func FuzzBlock(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		it := walreader.NewBlockIterator(bytes.NewReader(data), int64(len(data)), "fuzz", 64)
		for i := 0; i < 1000; i++ {
			b, err := it.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var e *walreader.Error
				if !errors.As(err, &e) {
					t.Fatalf("not an *Error: %v", err)
				}
				if errors.Is(err, walreader.ErrTornTail) {
					return
				}
				if _, err := it.Resync(nil); err != nil {
					return
				}
				continue
			}
			if int(b.Header.Length) != len(b.Body) || b.Offset+16+int64(len(b.Body)) > int64(len(data)) {
				t.Fatalf("block %+v of %d bytes", b.Header, len(b.Body))
			}
		}
	})
}

// FuzzMutation: DecodeMutation never panics, and what it accepts (with a
// current header) re-encodes to the same bytes.
func FuzzMutation(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var m walreader.Mutation
		n, err := walreader.DecodeMutation(data, &m)
		if err != nil {
			if !errors.Is(err, walreader.ErrBadMutation) {
				t.Fatalf("error class: %v", err)
			}
			return
		}
		if n > len(data) || n != m.Size {
			t.Fatalf("size %d of %d", n, len(data))
		}
		if m.HeaderVersion != 0 {
			return // legacy: the last word is __isset, not kept
		}
		if got := walwriter.AppendMutation(nil, &m, m.LogOffset); !bytes.Equal(got, data[:n]) {
			t.Fatalf("re-encoding differs:\n% x\n% x", got, data[:n])
		}
	})
}

// FuzzReader: a whole file through FileReader, strict or skipping corrupt
// data, never panics and ends with io.EOF, a torn tail or an *Error.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		fr, err := walreader.NewFileReader(bytes.NewReader(data), int64(len(data)), "fuzz", walreader.FileOptions{StartOffset: -1, SkipCorrupt: skip, BufferSize: 128})
		if err != nil {
			var e *walreader.Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *Error: %v", err)
			}
			return
		}
		for i := 0; i < 100000; i++ {
			m, err := fr.Next()
			if err != nil {
				var e *walreader.Error
				if !errors.Is(err, io.EOF) && !errors.As(err, &e) {
					t.Fatalf("not an *Error: %v", err)
				}
				return
			}
			if m.FileOffset+int64(m.Size) > int64(len(data)) {
				t.Fatalf("mutation past the end")
			}
		}
		t.Fatal("no end")
	})
}
