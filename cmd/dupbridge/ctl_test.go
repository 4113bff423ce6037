package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/server"
)

// fakeShipper is enough of a follower for the HTTP interface.
type fakeShipper struct{}

func (fakeShipper) PartitionCount(string) int                         { return 8 }
func (fakeShipper) Ship(_ *server.Part, done func(server.PartResult)) { done(server.PartResult{}) }

const ctlToken = "ctl-test-token-0123456789"

const ctlINI = `[pegasus.clusters]
  F = 127.0.0.1:1
[duplication-group]
  A = 1
[dupbridge]
  listen = 127.0.0.1:0
  advertised_address = 10.0.0.2:34601
  admin_token = ` + ctlToken + `
  state_dir = %STATE%
[table.orders]
  app_id = 5
  follower_cluster = F
`

// ctlBridge serves a real server's HTTP interface on a loopback port.
func ctlBridge(t *testing.T) string {
	t.Helper()
	cfg, err := config.Parse([]byte(strings.Replace(ctlINI, "%STATE%", t.TempDir(), 1)), "ctl.ini")
	if err != nil {
		t.Fatal(err)
	}
	lvl := zap.NewAtomicLevel()
	s, err := server.New(server.Options{Config: cfg, Shipper: fakeShipper{}, LogLevel: &lvl,
		Reload: func(context.Context) (server.ReloadResult, error) {
			return server.ReloadResult{Problems: []string{"ctl.ini:line 3: [dupbridge] listen: bad"}}, errors.New("reload: 1 problem(s), nothing changed")
		}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.HTTPHandler())
	t.Cleanup(hs.Close)
	return strings.TrimPrefix(hs.URL, "http://")
}

func runCtl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"ctl"}, args...))
	err := root.Execute()
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		out.WriteString("error: " + err.Error())
	}
	return out.String(), code
}

// TestCtl runs each ctl command against a bridge: output, and the exit
// codes scripts rely on (0 done, 1 refused, 2 usage, 3 unreachable).
func TestCtl(t *testing.T) {
	addr := ctlBridge(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	tok := "--token=" + ctlToken
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"status", []string{"--addr", addr, "status"}, 0, []string{"table orders (app 5, master table orders): running, fail mode slow", "follower F/orders, 8 partitions"}},
		{"pause", []string{"--addr", addr, tok, "pause", "orders"}, 0, []string{"table orders: paused (was running), fail mode slow"}},
		{"status one json", []string{"--addr", addr, "--json", "status", "orders"}, 0, []string{`"state": "paused"`}},
		{"fail-mode", []string{"--addr", addr, tok, "fail-mode", "orders", "skip", "--attempts", "5"}, 0, []string{"fail mode skip after 5 attempts"}},
		{"remove", []string{"--addr", addr, tok, "remove", "orders"}, 0, []string{"removed (was paused)", "no spool to drop"}},
		{"start", []string{"--addr", "http://" + addr, tok, "start", "orders"}, 0, []string{"running (was removed)"}},
		{"log-level", []string{"--addr", addr, tok, "log-level", "debug"}, 0, []string{"log level debug (was info)"}},
		{"reload refused with problems", []string{"--addr", addr, tok, "reload"}, 1, []string{"HTTP 422", "ctl.ini:line 3: [dupbridge] listen: bad"}},
		{"no token", []string{"--addr", addr, "pause", "orders"}, 1, []string{"HTTP 401"}},
		{"wrong token", []string{"--addr", addr, "--token", "nope-nope-nope-nope", "pause", "orders"}, 1, []string{"HTTP 401"}},
		{"unknown table", []string{"--addr", addr, tok, "pause", "nope"}, 1, []string{"HTTP 404", "unknown table"}},
		{"unknown table status", []string{"--addr", addr, "status", "nope"}, 1, []string{"HTTP 404"}},
		{"bad log level", []string{"--addr", addr, tok, "log-level", "loud"}, 1, []string{"HTTP 400"}},
		{"missing table", []string{"--addr", addr, "pause"}, 2, []string{"want 1 argument"}},
		{"bad fail mode", []string{"--addr", addr, "fail-mode", "orders", "fast"}, 2, []string{"want slow or skip"}},
		{"bad flag", []string{"--addr", addr, "--bogus", "status"}, 2, []string{"unknown flag"}},
		{"bad address", []string{"--addr", "ftp://x", "status"}, 2, []string{"want HOST:PORT"}},
		{"unreachable", []string{"--addr", dead, "--timeout", "2s", "status"}, 3, []string{"bridge unreachable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCtl(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("token from the environment", func(t *testing.T) {
		t.Setenv("DUPBRIDGE_TOKEN", ctlToken)
		out, code := runCtl(t, "--addr", addr, "--json", "pause", "orders")
		var r server.ControlResult
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.State != server.StatePaused || !r.Persisted {
			t.Errorf("exit %d: %s", code, out)
		}
	})
}

// TestReloader: an invalid file changes nothing and every problem comes
// back with its line; a valid one is applied.
func TestReloader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dupbridge.ini")
	applied := 0
	rl := &reloader{path: path, log: zap.NewNop(), apply: func(*config.Config) ([]string, error) {
		applied++
		return []string{"table x added"}, nil
	}}
	bad := "[pegasus.clusters]\n  F = 127.0.0.1:34601\n[duplication-group]\n  A = 1\n[dupbridge]\n  listen = 127.0.0.1:34801\n[table.t]\n  follower_cluster = G\n  failure_policy = fast\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := rl.reload(context.Background())
	if err == nil || applied != 0 || len(res.Problems) != 2 ||
		!strings.Contains(res.Problems[0], path+":line 8:") || !strings.Contains(res.Problems[1], path+":line 9:") {
		t.Fatalf("invalid file: %+v, %v, applied %d", res, err, applied)
	}
	good := strings.Replace(bad, "follower_cluster = G", "follower_cluster = F", 1)
	good = strings.Replace(good, "failure_policy = fast", "failure_policy = slow", 1)
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = rl.reload(context.Background())
	if err != nil || applied != 1 || !res.Applied || res.Changes[0] != "table x added" {
		t.Fatalf("valid file: %+v, %v, applied %d", res, err, applied)
	}
}
