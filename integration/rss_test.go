package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The bridge as a separate process, the way the issue measured it: `dupbridge
// serve` under `ulimit -n 1100`, attacked with a connection flood, huge
// partial frames and an unread-reply flood. It must keep serving, its RSS
// (VmRSS) must stay within max_inflight_bytes + 256 MiB and drop back after
// the attackers leave, and its exit codes must be the README's (0 after
// SIGTERM, 1 when it cannot serve).
func TestServeProcessUnderAttack(t *testing.T) {
	const inflight = 64 << 20
	conns, huge, flood := 1_500, 60, 512<<20
	if testing.Short() {
		conns, huge, flood = 1_200, 16, 128<<20
	}
	bin := buildDupbridge(t)
	addr := freeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "bridge.ini")
	ini := fmt.Sprintf(`[pegasus.clusters]
follower = 127.0.0.1:1
[duplication-group]
master = 1
follower = 2
[dupbridge]
listen = %s
max_inflight_bytes = %d
frame_timeout = 2s
state_dir = %s
[table.demo]
follower_cluster = follower
`, addr, inflight, t.TempDir())
	if err := os.WriteFile(cfgPath, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", `ulimit -n 1100 && exec "$0" serve --config "$1" --log-level warn`, bin, cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	exited := startProcess(t, cmd, logs.String)
	waitListening(t, addr)
	base := vmRSS(t, cmd.Process.Pid)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var peak int64
	sampling, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for sampling.Err() == nil {
			peak = max(peak, vmRSS(t, cmd.Process.Pid))
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// A connection opened before the flood must be served throughout.
	if err := probe(addr, "127.0.0.1"); err != nil {
		t.Fatalf("before the attack: %v", err)
	}
	// 1. The flood: more connections than descriptors, each with
	// 150 bytes of a frame. Before: EMFILE stopped gnet and serve exited 0.
	held := holdPartialConns(ctx, addr, "127.0.0.2", conns)
	if err := probe(addr, "127.0.0.1"); err != nil {
		t.Errorf("during the connection flood: %v", err)
	}
	for _, c := range held {
		_ = c.Close()
	}
	// 2. and 3. Huge partial frames and an unread-reply flood, together.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); hugePartialFrames(ctx, addr, "127.0.0.3", huge) }()
	go func() { defer wg.Done(); unreadFlood(ctx, addr, "127.0.0.4", flood) }()
	wg.Wait()
	stopSampling()
	<-sampled
	select {
	case err := <-exited:
		t.Fatalf("the bridge exited under attack: %v", err)
	default:
	}
	if err := probe(addr, "127.0.0.1"); err != nil {
		t.Errorf("after the attacks: %v", err)
	}
	limit := int64(inflight + 256<<20)
	t.Logf("VmRSS: %d MiB at start, %d MiB at peak (limit %d MiB)", base>>20, peak>>20, limit>>20)
	if peak > limit {
		t.Errorf("VmRSS peaked at %d MiB, above max_inflight_bytes + 256 MiB = %d MiB", peak>>20, limit>>20)
	}
	// After the attackers left, memory goes back (freeOSMemory): within
	// 64 MiB of where it started.
	after := vmRSS(t, cmd.Process.Pid)
	for deadline := time.Now().Add(15 * time.Second); after > base+64<<20 && time.Now().Before(deadline); after = vmRSS(t, cmd.Process.Pid) {
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("VmRSS %d MiB after the attackers left", after>>20)
	if after > base+64<<20 {
		t.Errorf("VmRSS stayed at %d MiB after the attack (start %d MiB)", after>>20, base>>20)
	}

	// Exit codes (README "Exit codes"): a second bridge on the same port
	// cannot serve and exits 1; SIGTERM stops the first cleanly, exit 0.
	if err := exec.Command(bin, "serve", "--config", cfgPath).Run(); exitCode(err) != 1 {
		t.Errorf("serve on a port in use: %v, want exit status 1", err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if exitCode(err) != 0 {
			t.Errorf("after SIGTERM: %v, want exit status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("the bridge did not stop on SIGTERM")
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// holdPartialConns opens up to n connections that each send 150 bytes of a
// frame and stay open; refused ones are not kept.
func holdPartialConns(ctx context.Context, addr, src string, n int) []net.Conn {
	part := make([]byte, 150)
	copy(part, "RDSN")
	var kept []net.Conn
	for range n {
		c, err := dialFrom(ctx, addr, src)
		if err != nil {
			continue
		}
		if _, err := c.Write(part); err != nil {
			_ = c.Close()
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t testing.TB, addr string) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bridge did not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vmRSS reads VmRSS of pid from /proc, in bytes.
func vmRSS(t testing.TB, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// buildDupbridge builds the binary into the test's temporary directory.
func buildDupbridge(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dupbridge")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/dupbridge").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startProcess starts cmd and returns its exit; at the test's end it is
// killed, and when the test failed the tail of logs() is logged.
func startProcess(t *testing.T, cmd *exec.Cmd, logs func() string) <-chan error {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("bridge log:\n%s", tail(logs(), 4000))
		}
	})
	return exited
}
