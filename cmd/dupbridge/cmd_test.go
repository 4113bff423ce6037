package main

import (
	"bytes"
	"testing"
)

// runCmd runs the dupbridge command line with args, in process, and
// returns what it printed (stdout and stderr together).
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}
