package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/internal/zktest"
	"github.com/dupbridge/dupbridge/logging"
	"github.com/dupbridge/dupbridge/metaproxy"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// The mapping commands against a real ZooKeeper, through --zk/--root and
// through --config; serve --check of a [meta-proxy]-only file.
func TestProxyCommands(t *testing.T) {
	zks, err := zktest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer zks.Close()
	flags := []string{"--zk", zks.Addr, "--root", "/cmdtest/r"}
	ini := filepath.Join(t.TempDir(), "proxy.ini")
	text := "[meta-proxy]\nlisten = 127.0.0.1:34901\nzk = " + zks.Addr + "\nroot = /cmdtest/r\ncache_tables = 16\n"
	if err := os.WriteFile(ini, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args    []string
		wantErr string
		want    []string
	}{
		{[]string{"proxy", "set", "t1", "--cluster", "A", "--metas", "127.0.0.1:1,127.0.0.1:2"}, "", []string{"t1 -> A (127.0.0.1:1,127.0.0.1:2), version 0"}},
		{[]string{"proxy", "set", "t2", "--cluster", "B", "--metas", "127.0.0.1:3"}, "", []string{"t2 -> B"}},
		{[]string{"proxy", "set", "t3", "--cluster", "B", "--metas", "nohostport"}, "malformed mapping", nil},
		{[]string{"proxy", "get", "t1"}, "", []string{`"cluster_name":"A"`, `"meta_addrs":"127.0.0.1:1,127.0.0.1:2"`, `"version":0`}},
		{[]string{"proxy", "get", "nope"}, "no mapping for the table", nil},
		{[]string{"proxy", "switch", "t1", "--to", "B", "--metas", "127.0.0.1:3", "--bridge", "127.0.0.1:1"}, "no bridge duplicating", nil},
		{[]string{"proxy", "switch", "t1", "--to", "B", "--metas", "127.0.0.1:3", "--bridge", "127.0.0.1:1", "--edge", "ftp://x"}, `bridge address "ftp://x"`, nil},
		{[]string{"proxy", "switch", "t1", "--to", "B", "--metas", "127.0.0.1:3", "--bridge", "127.0.0.1:1", "--edge", "127.0.0.1:1", "--pause"}, "no bridge duplicating", nil},
		{[]string{"proxy", "switch", "t1", "--to", "B", "--metas", "127.0.0.1:3", "--bridge", "127.0.0.1:1", "--force"}, "",
			[]string{"FORCED", "switched t1 to B (127.0.0.1:3), node version 1"}},
		{[]string{"proxy", "delete", "t2"}, "", []string{"deleted /cmdtest/r/t2"}},
		{[]string{"proxy", "delete", "t2"}, "no mapping for the table", nil},
	}
	for _, s := range steps {
		out, err := runCmd(t, append(s.args, flags...)...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("%v: err %v, want %q", s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v\n%s", s.args, err, out)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", s.args, w, out)
			}
		}
	}
	out, err := runCmd(t, "proxy", "list", "--config", ini)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m struct {
		Table       string `json:"table"`
		ClusterName string `json:"cluster_name"`
	}
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &m) != nil || m.Table != "t1" || m.ClusterName != "B" {
		t.Errorf("list: %q", out)
	}
	out, err = runCmd(t, "serve", "--check", "--config", ini)
	if err != nil || !strings.Contains(out, "ok: meta-proxy on 127.0.0.1:34901") || !strings.Contains(out, "cache 16 table(s)") {
		t.Errorf("serve --check: %v\n%s", err, out)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve with a [meta-proxy] section beside the bridge's: one process, two
// ports; the proxy forwards queries, and its status and metrics are on the
// bridge's HTTP interface.
func TestServeWithMetaProxy(t *testing.T) {
	zks, err := zktest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer zks.Close()
	sim, err := pegasussim.Start(context.Background(), pegasussim.Options{Tables: []pegasussim.TableSpec{{Name: "t", Partitions: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	st, err := metaproxy.Dial([]string{zks.Addr}, "/serve", metaproxy.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Put("t", metaproxy.Record{ClusterName: "A", MetaAddrs: sim.MetaAddr()}, metaproxy.AnyVersion); err != nil {
		t.Fatal(err)
	}
	bridge, httpAddr, proxy := freeAddr(t), freeAddr(t), freeAddr(t)
	text := fmt.Sprintf("[pegasus.clusters]\nF = %s\n[duplication-group]\nM = 1\nF = 2\n[dupbridge]\nlisten = %s\nhttp_listen = %s\n"+
		"state_dir = %s\n[table.t]\nfollower_cluster = F\n[meta-proxy]\nlisten = %s\nzk = %s\nroot = /serve\n",
		sim.MetaAddr(), bridge, httpAddr, t.TempDir(), proxy, zks.Addr)
	cfg, err := config.Parse([]byte(text), "both.ini")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, "both.ini", cfg, &logging.Logger{Logger: zap.NewNop(), Level: zap.NewAtomicLevel()})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	m, err := rpcclient.NewMeta([]string{proxy}, rpcclient.MetaOptions{Rounds: 20, RetryDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
	defer qcancel()
	tc, err := m.QueryConfig(qctx, "t", nil)
	if err != nil || tc.PartitionCount != 4 {
		t.Fatalf("query through the proxy: %+v %v", tc, err)
	}
	for path, want := range map[string]string{"/status": `"meta_proxy"`, "/metrics": `dupbridge_metaproxy_queries_total{table="t"} 1`} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", path, want)
		}
	}
}
