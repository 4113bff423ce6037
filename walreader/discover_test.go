package walreader_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

// Pegasus's layout <root>/<app>.<partition>.pegasus/plog (storage.md §1.1),
// a single plog directory, a replica directory, and files.
func TestDiscover(t *testing.T) {
	root := t.TempDir()
	res, err := walwriter.Generate(context.Background(), walwriter.GenOptions{Dir: root, AppID: 3, Partitions: 4, Mutations: 40, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p0 := res.Partitions[0].Dir
	cases := []struct {
		name  string
		paths []string
		want  int
	}{
		{"root", []string{root}, 4},
		{"plog dir", []string{p0}, 1},
		{"replica dir", []string{filepath.Dir(p0)}, 1},
		{"same dir twice", []string{p0, p0}, 1},
		{"files", []string{res.Partitions[1].Files[0]}, 1},
		{"root and a file", []string{root, res.Partitions[1].Files[0]}, 5},
	}
	for _, tc := range cases {
		srcs, err := walreader.Discover(tc.paths)
		if err != nil || len(srcs) != tc.want {
			t.Errorf("%s: %d sources (%v), want %d", tc.name, len(srcs), err, tc.want)
		}
		for _, s := range srcs {
			if len(s.Paths) == 0 || s.Key == "" {
				t.Errorf("%s: empty source %+v", tc.name, s)
			}
		}
	}
	empty := t.TempDir()
	if _, err := walreader.Discover([]string{empty}); !errors.Is(err, walreader.ErrNoPlog) {
		t.Errorf("empty dir: %v, want ErrNoPlog", err)
	}
	if _, err := walreader.Discover([]string{filepath.Join(empty, "missing")}); err == nil {
		t.Error("missing path accepted")
	}
}
