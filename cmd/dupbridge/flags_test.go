package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestBadFlagValues: values that cannot work are refused with a message
// naming the flag, before anything starts (no simulator, no bridge, no
// output; the context would stop a started simulator), and good ones still
// parse.
func TestBadFlagValues(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--mutations", "-5"}, "--mutations -5: want at least 1"},
		{[]string{"demo", "--mutations", "0"}, "--mutations 0"},
		{[]string{"demo", "--follower-partitions", "3"}, "--follower-partitions 3: want a power of two"},
		{[]string{"demo", "--follower-partitions", "0"}, "--follower-partitions 0"},
		{[]string{"demo", "--follower-partitions", "131072"}, "--follower-partitions 131072"},
		{[]string{"demo", "--master-partitions", "-1"}, "--master-partitions -1: want 1..65536"},
		{[]string{"sim", "--replicas", "0"}, "--replicas 0: want 1..64"},
		{[]string{"sim", "--replicas", "-2"}, "--replicas -2"},
		{[]string{"sim", "--tables", "t:70000"}, `--tables "t:70000": partition count: want 1..65536`},
		{[]string{"sim", "--tables", "t:0"}, "partition count"},
		{[]string{"sim", "--tables", "t:8:4", "--replicas", "3"}, `"t:8:4": replica count: want 1..3`},
		{[]string{"sim", "--tables", "t:8:0"}, "replica count"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(tc.args)
			err := root.ExecuteContext(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if out.Len() != 0 { // the demo and the simulator print as they start
				t.Errorf("started something before refusing:\n%s", out.String())
			}
		})
	}
	if specs, err := parseSimTables("a:8,b:65536:2", 3); err != nil || len(specs) != 2 || specs[1].Partitions != 65536 || specs[1].ReplicaCount != 2 {
		t.Errorf("good --tables: %+v %v", specs, err)
	}
}
