package jsonfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type doc struct {
	A int    `json:"a"`
	B string `json:"b"`
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	cases := []struct {
		name    string
		prepare func()
		want    doc
		found   bool
		err     string
	}{
		{"missing", func() {}, doc{}, false, ""},
		{"written", func() { mustWrite(t, p, doc{1, "x"}) }, doc{1, "x"}, true, ""},
		{"replaced", func() { mustWrite(t, p, doc{2, "y"}) }, doc{2, "y"}, true, ""},
		{"corrupt", func() { os.WriteFile(p, []byte("{"), 0o600) }, doc{}, true, "state.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.prepare()
			var got doc
			found, err := Read(p, &got)
			if found != tc.found || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("found %v err %v, want %v %q", found, err, tc.found, tc.err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	// No temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries", len(ents))
	}
	if err := Write(filepath.Join(dir, "no", "such", "dir.json"), doc{}); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func mustWrite(t *testing.T, p string, v doc) {
	t.Helper()
	if err := Write(p, v); err != nil {
		t.Fatal(err)
	}
}
