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

// The edge and sink examples pass --check; role mistakes are reported with
// their lines.
func TestServeCheckRoles(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"edge.ini", "ok: edge, 1 table(s)"},
		{"sink.ini", "ok: sink, 1 table(s), 1 follower cluster(s), edges connect to 0.0.0.0:34701"},
	} {
		out, err := runServeCheck(t, filepath.Join("..", "..", "examples", tc.file))
		if err != nil || !strings.Contains(out, tc.want) {
			t.Fatalf("%s: %v\n%s", tc.file, err, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "edge.ini")
	text := "[duplication-group]\n  A = 1\n[dupbridge]\n  role = edge\n  listen = 127.0.0.1:34801\n  relay_token = short\n  relay_listen = 127.0.0.1:1\n[table.t]\n  ack = never\n"
	if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runServeCheck(t, bad)
	if err == nil {
		t.Fatalf("bad edge accepted:\n%s", out)
	}
	for _, want := range []string{"line 6: [dupbridge] relay_token: too short", "line 7: [dupbridge] relay_listen: only a sink",
		"[dupbridge] relay_sink: required with role = edge", "line 9: [table.t] ack: \"never\": want spool or follower"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	missing := filepath.Join(t.TempDir(), "tls.ini")
	text = "[duplication-group]\n  A = 1\n[dupbridge]\n  role = edge\n  listen = 127.0.0.1:34801\n  relay_token = 0123456789abcdef0\n  relay_sink = 127.0.0.1:9\n  relay_tls_cert = /nonexistent/c.pem\n  relay_tls_key = /nonexistent/k.pem\n  relay_tls_ca = /nonexistent/ca.pem\n[table.t]\n"
	if err := os.WriteFile(missing, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runServeCheck(t, missing); err == nil || !strings.Contains(out, "/nonexistent/c.pem") {
		t.Fatalf("missing TLS files accepted: %v\n%s", err, out)
	}
}
