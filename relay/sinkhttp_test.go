package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/server"
)

// The sink's admin HTTP: /duplication (404 for a table it does not
// route), /healthz, /readyz failing while the follower cannot be reached
// for longer than ready_follower_timeout, pprof and the table controls
// behind admin_token, the controls answered 409 naming the edge.
func TestSinkAdminHTTP(t *testing.T) {
	const token = "sink-admin-token-0123456789abcdef"
	cfg := sinkCfg(t, testToken, "http_listen = 127.0.0.1:0\nadmin_token = "+token+"\nready_follower_timeout = 1ms")
	lvl := zap.NewAtomicLevelAt(zap.InfoLevel)
	n, err := StartSink(context.Background(), cfg, NodeOptions{LogLevel: &lvl}) // follower f = 127.0.0.1:1: unreachable
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	base := "http://" + n.HTTPAddr().String()
	call := func(method, path, tok string) (int, string) {
		body := `{"action":"pause"}`
		if path == "/log-level" {
			body = `{"level":"debug"}`
		}
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	eventually(t, "/readyz not ready while the follower is unreachable", func() bool {
		code, body := call("GET", "/readyz", "")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "unreachable")
	})
	cases := []struct {
		method, path, tok string
		code              int
		body              string
	}{
		{"GET", "/healthz", "", http.StatusOK, "ok"},
		{"GET", "/duplication?table=t", "", http.StatusOK, `"role": "sink"`},
		{"GET", "/duplication?table=nope", "", http.StatusNotFound, "nope"},
		{"GET", "/debug/pprof/", "", http.StatusUnauthorized, "admin_token"},
		{"GET", "/debug/pprof/", token, http.StatusOK, "goroutine"},
		{"POST", "/tables/t/control", "", http.StatusUnauthorized, "admin_token"},
		{"POST", "/tables/t/control", "wrong", http.StatusUnauthorized, "admin_token"},
		{"POST", "/tables/t/control", token, http.StatusConflict, "edge"},
		{"POST", "/tables/t/pause", token, http.StatusConflict, "edge"},
		{"POST", "/log-level", "", http.StatusUnauthorized, "admin_token"},
		{"POST", "/log-level", token, http.StatusOK, `"was": "info"`},
	}
	for _, c := range cases {
		code, body := call(c.method, c.path, c.tok)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s %s (token %q): %d %q, want %d with %q", c.method, c.path, c.tok, code, body, c.code, c.body)
		}
	}
	if lvl.Level() != zap.DebugLevel {
		t.Errorf("log level after POST /log-level: %v", lvl.Level())
	}
	d, err := n.Duplication("t")
	if err != nil || len(d.Tables) != 1 {
		t.Fatalf("Duplication: %+v, %v", d, err)
	}
	td := d.Tables[0]
	if td.State != server.StateRunning || td.FollowerCluster != "f" || td.FollowerError == "" || td.InflightEntries != 0 {
		b, _ := json.Marshal(td)
		t.Errorf("sink table: %s", b)
	}
}

// With http_tls_cert the sink's admin HTTP is https (server.ListenAdmin,
// as a direct bridge's).
func TestSinkAdminHTTPS(t *testing.T) {
	p := newPKI(t)
	cfg := sinkCfg(t, testToken, fmt.Sprintf("http_listen = 127.0.0.1:0\nhttp_tls_cert = %s\nhttp_tls_key = %s", p.file("sink.pem"), p.file("sink.key")))
	n, err := StartSink(context.Background(), cfg, NodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	ca, err := os.ReadFile(p.file("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := hc.Get("https://" + n.HTTPAddr().String() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("https GET /healthz: %v %v", resp, err)
	}
	_ = resp.Body.Close()
}
