package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/pegasussim"
)

// `dupbridge checkpoint fetch` copies a simulated master table's checkpoint
// and says what it copied; a second run resumes and copies nothing; bad
// flags are refused.
func TestCheckpointFetchCommand(t *testing.T) {
	root := t.TempDir()
	for p := 0; p < 2; p++ {
		d := filepath.Join(root, string(rune('0'+p)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "000009.sst"), bytes.Repeat([]byte{byte(p)}, 100<<10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	specs := []pegasussim.TableSpec{{Name: "m", Partitions: 2}}
	if err := setCheckpointDirs(specs, "m="+root); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := pegasussim.Start(ctx, pegasussim.Options{Tables: specs})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	run := func(args ...string) (string, error) {
		cmd := newCheckpointCmd(&globalFlags{logLevel: "error"})
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}
	out := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
		err  bool
	}{
		{"fetch", []string{"fetch", "--from", sim.MetaAddr(), "--table", "m", "--out", out, "--chunk-bytes", "30000"}, "2 partitions, 2 files, 200.0 KiB (200.0 KiB copied now)", false},
		{"resume", []string{"fetch", "--from", sim.MetaAddr(), "--table", "m", "--out", out}, "(0 B copied now)", false},
		{"bad rate", []string{"fetch", "--from", sim.MetaAddr(), "--table", "m", "--out", out, "--rate", "fast"}, "--rate", true},
		{"missing out", []string{"fetch", "--from", sim.MetaAddr(), "--table", "m"}, "out", true},
		{"load bad cluster id", []string{"load", out, "--to", sim.MetaAddr(), "--table", "m", "--cluster-id", "200"}, "cluster-id", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(tc.args...)
			if (err != nil) != tc.err {
				t.Fatalf("err %v, output %s", err, got)
			}
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("output %q does not say %q", got, tc.want)
			}
		})
	}
	b, err := os.ReadFile(filepath.Join(out, "1", "000009.sst"))
	if err != nil || !bytes.Equal(b, bytes.Repeat([]byte{1}, 100<<10)) {
		t.Fatalf("staged file: %v", err)
	}
	if err := setCheckpointDirs(specs, "nope="+root); err == nil {
		t.Fatal("--checkpoints for an unknown table accepted")
	}
}
