package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runServeCheck(t *testing.T, path string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"serve", "--check", "--config", path})
	err := root.Execute()
	return out.String(), err
}

func TestServeCheck(t *testing.T) {
	out, err := runServeCheck(t, filepath.Join("..", "..", "examples", "dupbridge.ini"))
	if err != nil || !strings.Contains(out, "ok: 2 table(s)") || !strings.Contains(out, "table users (app 2) -> B_real/users_copy, failure policy skip") {
		t.Fatalf("example: %v\n%s", err, out)
	}

	bad := filepath.Join(t.TempDir(), "bad.ini")
	text := "[pegasus.clusters]\n  F = 127.0.0.1:34601\n[duplication-group]\n  A = 1\n[dupbridge]\n  listen = 127.0.0.1:34801\n[table.t]\n  follower_cluster = G\n  failure_policy = fast\n"
	if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runServeCheck(t, bad)
	if err == nil || !strings.Contains(err.Error(), "2 problem(s)") {
		t.Fatalf("bad file accepted: %v\n%s", err, out)
	}
	for _, want := range []string{bad + ":line 8: [table.t] follower_cluster", bad + ":line 9: [table.t] failure_policy"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
