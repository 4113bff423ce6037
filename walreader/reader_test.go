package walreader_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

func TestParseFileName(t *testing.T) {
	for _, c := range []struct {
		name   string
		suffix bool
		idx    int32
		off    int64
		ok     bool
	}{
		{"log.1.0", false, 1, 0, true},
		{"log.12.33554432", false, 12, 33554432, true},
		{"log.1.0.removed", false, 0, 0, false},
		{"log.1.0.removed", true, 0, 0, false},
		{"log.1.0.handle_real_private_log", false, 0, 0, false},
		{"log.1.0.handle_real_private_log", true, 1, 0, true},
		{"log.1", false, 0, 0, false},
		{"log.1a.2", false, 0, 0, false},
		{"log.-1.2", false, 0, 0, false},
		{"log.1.2.", true, 0, 0, false},
		{"log.99999999999.0", false, 0, 0, false},
		{"plog.1.0", false, 0, 0, false},
	} {
		idx, off, ok := walreader.ParseFileName(c.name, c.suffix)
		if ok != c.ok || idx != c.idx || off != c.off {
			t.Errorf("ParseFileName(%q, %v) = %d %d %v", c.name, c.suffix, idx, off, ok)
		}
	}
}

// TestOpenLayouts: a plog dir, a replica dir and a reps dir all open.
func TestOpenLayouts(t *testing.T) {
	root := t.TempDir()
	res, err := walwriter.Generate(context.Background(), walwriter.GenOptions{Dir: root, Partitions: 3, Mutations: 90, FinalEmpty: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want int
	}{
		{res.Partitions[1].Dir, res.Partitions[1].Mutations},
		{walwriter.PlogDir(root, 1, 1) + "/..", res.Partitions[1].Mutations},
		{root, res.Mutations},
	} {
		ms, _, err := readAll(t, []string{c.path}, walreader.Options{})
		if err != nil || len(ms) != c.want {
			t.Errorf("%s: %d mutations, want %d, %v", c.path, len(ms), c.want, err)
		}
	}
	if _, err := walreader.Open([]string{t.TempDir()}, walreader.Options{}); !errors.Is(err, walreader.ErrNoPlog) {
		t.Errorf("empty directory: %v, want ErrNoPlog", err)
	}
}

// TestOpenSuffixedFiles: captured files named log.1.0.<test> in one
// directory are separate logs, not a gap.
func TestOpenSuffixedFiles(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	total := 0
	for _, fx := range walwriter.Fixtures() {
		p, err := walwriter.WriteFixture(dir, fx.Name)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		total += len(fx.Mutations())
	}
	ms, warns, err := readAll(t, paths, walreader.Options{})
	if err != nil || len(warns) != 0 || len(ms) != total {
		t.Fatalf("%d mutations, want %d: %v %v", len(ms), total, warns, err)
	}
}
