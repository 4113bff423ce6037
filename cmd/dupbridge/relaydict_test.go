package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/relay"
	"github.com/dupbridge/dupbridge/walwriter"
)

// relay-dict trains a dictionary from generated plogs that the relay can
// load.
func TestRelayDict(t *testing.T) {
	dir := t.TempDir()
	gen, err := walwriter.Generate(context.Background(), walwriter.GenOptions{Dir: dir, AppID: 1, Partitions: 2, Mutations: 3000, Seed: 1,
		HashKeys: 500, SortKeys: 4, ValueMin: 32, ValueMax: 256})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "relay.dict")
	root := newRootCmd()
	var buf bytes.Buffer
	root.SetOut(&buf)
	root.SetArgs([]string{"relay-dict", "--out", out, "--size", "8KiB", gen.Partitions[0].Dir, gen.Partitions[1].Dir})
	if err := root.Execute(); err != nil || !strings.Contains(buf.String(), "zstd dictionary id") {
		t.Fatalf("relay-dict: %v\n%s", err, buf.String())
	}
	d, err := relay.LoadDict(out)
	if err != nil || d.ID == 0 {
		t.Fatalf("trained dictionary: %v", err)
	}
	if st, _ := os.Stat(out); st.Size() > 8<<10+1024 {
		t.Fatalf("dictionary of %d bytes for --size 8KiB", st.Size())
	}
}
