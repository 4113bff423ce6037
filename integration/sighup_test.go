package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/ctlclient"
)

// TestServeReloadSignals runs `dupbridge serve` as a process: SIGHUP with
// an invalid file keeps the running configuration and logs every problem
// with its line (log_file, JSON); SIGHUP with a valid one adds a table;
// `ctl reload` answers the problems; SIGTERM drains and exits 0.
func TestServeReloadSignals(t *testing.T) {
	dir := t.TempDir()
	bin := buildDupbridge(t)
	httpAddr := freeAddr(t)
	logFile := filepath.Join(dir, "log", "dupbridge.log")
	cfgPath := filepath.Join(dir, "bridge.ini")
	base := fmt.Sprintf(`[pegasus.clusters]
follower = 127.0.0.1:1
[duplication-group]
master = 1
follower = 2
[dupbridge]
listen = %s
http_listen = %s
state_dir = %s
log_file = %s
log_format = json
[table.demo]
app_id = 1
follower_cluster = follower
`, freeAddr(t), httpAddr, filepath.Join(dir, "state"), logFile)
	write := func(text string) {
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(base)
	if err := os.MkdirAll(filepath.Dir(logFile), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	exited := startProcess(t, cmd, func() string {
		b, _ := os.ReadFile(logFile)
		return string(b)
	})
	waitListening(t, httpAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := ctlclient.New(httpAddr, ctlclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tables := func() int {
		d, err := cl.Duplication(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(d.Tables)
	}
	waitLog := func(what string) string {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			b, _ := os.ReadFile(logFile)
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, what) {
					return line
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no log line with %q", what)
		return ""
	}

	// An invalid file (line 17: unknown cluster; line 18: bad policy).
	write(base + "[table.second]\napp_id = 2\nfollower_cluster = nope\nfailure_policy = fast\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line := waitLog("reload: configuration invalid")
	for _, want := range []string{`"level":"error"`, cfgPath + ":line 17: [table.second] follower_cluster", cfgPath + ":line 18: [table.second] failure_policy"} {
		if !strings.Contains(line, want) {
			t.Errorf("reload log line lacks %q: %s", want, line)
		}
	}
	if n := tables(); n != 1 {
		t.Fatalf("%d tables after an invalid reload, want 1", n)
	}
	res, err := cl.Reload(ctx)
	if ctlclient.ExitCode(err) != ctlclient.ExitRefused || !strings.Contains(err.Error(), "line 18") || res.Applied {
		t.Errorf("ctl reload of an invalid file: %+v, %v", res, err)
	}

	// A valid one adds the table.
	write(base + "[table.second]\napp_id = 2\nfollower_cluster = follower\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog("reload: configuration applied")
	if n := tables(); n != 2 {
		t.Fatalf("%d tables after a valid reload, want 2", n)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	waitLog("dupbridge stopped")
}
