package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/walwriter"
)

// verify reads back what a replay wrote (OK), and reports a follower that
// misses it (non-zero exit, with the count).
func TestVerifyCmd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root := t.TempDir()
	if _, err := walwriter.Generate(ctx, walwriter.GenOptions{Dir: root, Partitions: 2, Mutations: 300, Seed: 3,
		FinalEmpty: true, HashKeys: 50, SortKeys: 2}); err != nil {
		t.Fatal(err)
	}
	sim, err := pegasussim.Start(ctx, pegasussim.Options{
		// As many partitions as the logs: Pegasus's own shipping then places
		// every key (duplication.md §3.6).
		Tables:   []pegasussim.TableSpec{{Name: "full", Partitions: 2}, {Name: "empty", Partitions: 2}},
		DupGroup: map[string]uint8{"master": 1}, ClusterID: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	// Each write in its own round: no reordering by the pegasus discipline
	// (duplication.md §7 item 7) in what verify compares.
	if _, err := replay.Run(ctx, replay.Options{MetaAddrs: []string{sim.MetaAddr()}, Table: "full", ClusterID: 1,
		Paths: []string{root}, BatchBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	run := func(table string) (map[string]any, error) {
		cmd := newVerifyCmd(&globalFlags{})
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs([]string{"--follower", sim.MetaAddr(), "--table", table, "--json", root})
		err := cmd.ExecuteContext(ctx)
		var res map[string]any
		if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
			t.Fatalf("output %q: %v", out.String(), jerr)
		}
		return res, err
	}
	res, err := run("full")
	if err != nil || res["keys"].(float64) == 0 || res["mismatches"].(float64) != 0 || res["partitions"].(float64) != 2 {
		t.Fatalf("replayed table: %v %v", res, err)
	}
	res, err = run("empty")
	if err == nil || res["mismatches"] != res["keys"] || res["keys"].(float64) == 0 {
		t.Fatalf("empty table: %v %v, want every key missing", res, err)
	}
}
