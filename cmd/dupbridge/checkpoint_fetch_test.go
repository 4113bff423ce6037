package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/dupbridge/dupbridge/checkpoint"
	"github.com/dupbridge/dupbridge/mutation"
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
		return execute(ctx, newCheckpointCmd(&globalFlags{logLevel: "error"}), args)
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

// `dupbridge checkpoint load` writes a fetched checkpoint's keys into a
// follower table of another partition count, each at its own partition,
// and a second run finds nothing left to load.
func TestCheckpointLoadCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := t.TempDir()
	for p := 0; p < 2; p++ {
		d := filepath.Join(root, fmt.Sprint(p))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "CURRENT"), []byte("MANIFEST-000001\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	master, err := pegasussim.Start(ctx, pegasussim.Options{Tables: []pegasussim.TableSpec{{Name: "m", Partitions: 2, CheckpointDir: root}}})
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	follower, err := pegasussim.Start(ctx, pegasussim.Options{Tables: []pegasussim.TableSpec{{Name: "f", Partitions: 8}},
		Strict: true, ClusterID: 2, DupGroup: map[string]uint8{"master": 1, "follower": 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	// The records each master partition's files hold (read here from
	// memory: the command's reader is given to it).
	recs := map[int][]checkpoint.Record{}
	for i := 0; i < 300; i++ {
		k := mutation.AppendRawKey(nil, fmt.Appendf(nil, "h%d", i), []byte("s"))
		p := mutation.PartitionIndex(mutation.KeyHash(k), 2)
		recs[p] = append(recs[p], checkpoint.Record{Key: k, Value: fmt.Appendf(nil, "v%d", i), Timetag: mutation.Timetag(uint64(1e15+i), 1, false)})
	}
	open := func(dir string, partition, count int, _ []byte) (checkpoint.Source, error) {
		return checkpoint.NewMemorySource(recs[partition]), nil
	}
	run := func(args ...string) (string, error) {
		cmd := &cobra.Command{Use: "checkpoint"}
		g := &globalFlags{logLevel: "error"}
		cmd.AddCommand(newCheckpointFetchCmd(g), newCheckpointLoadCmd(g, open))
		return execute(ctx, cmd, args)
	}
	dir := t.TempDir()
	if _, err := run("fetch", "--from", master.MetaAddr(), "--table", "m", "--out", dir); err != nil {
		t.Fatal(err)
	}
	load := []string{"load", dir, "--to", follower.MetaAddr(), "--table", "f", "--cluster-id", "1", "--step-keys", "50"}
	out, err := run(load...)
	if err != nil || !strings.Contains(out, "loaded into f (8 partitions): 300 keys") {
		t.Fatalf("load: %v\n%s", err, out)
	}
	held, err := follower.Dump("f")
	if err != nil || len(held) != 300 {
		t.Fatalf("follower holds %d keys (%v), want 300", len(held), err)
	}
	for _, h := range held {
		if h.Misplaced {
			t.Fatalf("key %q at partition %d", h.HashKey, h.Partition)
		}
	}
	if out, err := run(load...); err != nil || !strings.Contains(out, ": 0 keys") || !strings.Contains(out, "300 already loaded before") {
		t.Fatalf("second load: %v\n%s", err, out)
	}
}

// execute runs cmd with args and returns what it printed.
func execute(ctx context.Context, cmd *cobra.Command, args []string) (string, error) {
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}
