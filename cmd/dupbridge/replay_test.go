package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/walwriter"
)

// `dupbridge replay` ships the re-created fixture into the simulator and
// prints the summary as text or JSON; missing required flags are refused.
func TestReplayCommand(t *testing.T) {
	path, err := walwriter.WriteFixture(t.TempDir(), "log.1.0.handle_real_private_log")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := pegasussim.Start(ctx, pegasussim.Options{
		Tables:    []pegasussim.TableSpec{{Name: "temp", Partitions: 8}},
		ClusterID: 2, DupGroup: map[string]uint8{"master": 1, "follower": 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	run := func(args ...string) (string, error) {
		cmd := newReplayCmd(&globalFlags{logLevel: "error"})
		cmd.SilenceUsage, cmd.SilenceErrors = true, true // as under the root command
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}
	base := []string{"--to", sim.MetaAddr(), "--table", "temp", "--cluster-id", "1", "--retry-delay", "10ms"}

	out, err := run(append(base, "--json-summary", "--progress-file", t.TempDir()+"/p.json", path)...)
	if err != nil {
		t.Fatal(err)
	}
	var s replay.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("JSON summary: %v\n%s", err, out)
	}
	if s.Mutations != 4 || s.Entries != 4 || s.Skipped.Empty != 2 || s.RemotePartitions != 8 || len(s.Partitions) != 1 {
		t.Fatalf("summary %+v", s)
	}
	rec, ok, _ := sim.Get("temp", []byte("a"), []byte("a"))
	if !ok || string(rec.Value) != "d" {
		t.Fatalf("a/a = %q, want d", rec.Value)
	}

	// By directory, as `wal gen --fixture` lays it out.
	root := t.TempDir()
	genFixture(t, root)
	out, err = run(append(base, "--json-summary", root)...)
	if err != nil || json.Unmarshal([]byte(out), &s) != nil || s.Mutations != 4 || len(s.Partitions) != 1 {
		t.Fatalf("replay of %s: %v\n%s", root, err, out)
	}

	out, err = run(append(base, "--discipline", "pipelined", path)...)
	if err != nil || !strings.Contains(out, "4 mutations") || !strings.Contains(out, "discipline pipelined") {
		t.Fatalf("text summary: %v\n%s", err, out)
	}
	// Refused before anything runs: an error and no (all-zero) summary.
	for _, bad := range [][]string{
		{"--table", "temp", "--cluster-id", "1", path},                                              // no --to
		append(append([]string{}, base...), "--discipline", "x", path),                              // bad discipline
		append(append([]string{}, base...), "--framing", "http", path),                              // bad framing
		{"--to", sim.MetaAddr(), "--table", "temp", "--cluster-id", "0", path},                      // bad cluster id
		append(append([]string{}, base...), t.TempDir()),                                            // no plog
		{"--to", "127.0.0.1:1", "--table", "temp", "--cluster-id", "1", "--timeout", "200ms", path}, // no meta
		append(append([]string{}, base...), "--table", "nope", path),                                // no such table
	} {
		out, err := run(bad...)
		if err == nil {
			t.Errorf("%v accepted", bad)
		}
		if out != "" {
			t.Errorf("%v printed a summary before its error %v:\n%s", bad, err, out)
		}
	}
}
