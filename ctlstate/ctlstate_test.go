package ctlstate

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "state")
	st, err := Load(dir)
	if err != nil || len(st.Tables) != 0 {
		t.Fatalf("Load of a missing dir = %+v, %v; want empty, nil", st, err)
	}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	cases := []map[string]Table{
		{"orders": {Paused: true, Updated: now}},
		{"orders": {Removed: true, Updated: now}, "users": {FailMode: "skip", SkipAfterAttempts: 3, Updated: now}},
		{},
	}
	for i, tables := range cases {
		if err := Save(dir, State{Tables: tables}); err != nil {
			t.Fatalf("case %d: Save: %v", i, err)
		}
		got, err := Load(dir)
		if err != nil {
			t.Fatalf("case %d: Load: %v", i, err)
		}
		if !reflect.DeepEqual(got.Tables, tables) || got.Version != version {
			t.Errorf("case %d: Load = %+v, want %+v", i, got, tables)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 || ents[0].Name() != FileName {
			t.Errorf("case %d: dir holds %v, want only %s (no temporary left)", i, ents, FileName)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode = %v, %v; want 0700", fi.Mode(), err)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"corrupt", `{"version": 1, "tables": {`, "unexpected end"},
		{"version", `{"version": 9, "tables": {}}`, "unsupported version 9"},
		{"wrong type", `{"version": 1, "tables": []}`, "cannot unmarshal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), FileName) {
				t.Errorf("Load error = %v, want one naming the file and %q", err, tc.want)
			}
			if st.Tables == nil {
				t.Error("Load on error returned a nil table map")
			}
		})
	}
}

func TestCheckWritable(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		dir  string
		ok   bool
	}{
		{"existing dir", base, true},
		{"missing dir under a writable one", filepath.Join(base, "a", "b"), true},
		{"a file", file, false},
		{"under a file", filepath.Join(file, "x"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWritable(tc.dir)
			if (err == nil) != tc.ok {
				t.Errorf("CheckWritable(%s) = %v, want ok=%v", tc.dir, err, tc.ok)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(base, "a")); err == nil {
		t.Error("CheckWritable created a missing directory")
	}
	ents, _ := os.ReadDir(base)
	if len(ents) != 1 {
		t.Errorf("CheckWritable left files behind: %v", ents)
	}
}

// FuzzLoad: whatever the state file holds, Load returns a usable State or
// an error naming the file, never a panic; what loads saves and loads back
// the same.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"version": 1, "tables": {"orders": {"paused": true, "updated": "2026-12-03T09:00:00Z"}}}`))
	f.Add([]byte(`{"version": 1, "tables": {"t": {"removed": true, "fail_mode": "skip", "skip_after_attempts": 3, "updated": "2026-12-03T09:00:00Z"}}}`))
	f.Add([]byte(`{"version": 2}`))
	f.Add([]byte(`{`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := Load(dir)
		if st.Tables == nil {
			t.Fatal("nil table map")
		}
		if err != nil {
			if !strings.Contains(err.Error(), FileName) {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		if err := Save(dir, st); err != nil {
			t.Fatal(err)
		}
		again, err := Load(dir)
		if err != nil || !reflect.DeepEqual(again.Tables, st.Tables) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, st)
		}
	})
}
