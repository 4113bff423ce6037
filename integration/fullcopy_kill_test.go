package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/internal/testfix"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/verify"
)

// TestFullDuplicationSurvivesKill9: the real `dupbridge serve` process is
// killed with SIGKILL once while it copies the master's checkpoint and
// once while it loads it; each time a new process on the same state_dir
// resumes, and the follower ends up with every checkpoint key. "created"
// is never answered before that.
func TestFullDuplicationSurvivesKill9(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := buildBinary(t)
	now := time.Now()
	recs, fresh := checkpointRecords(24000, nil)
	root := buildMaster(t, recs)
	staged := treeSize(root)
	master := startMaster(t, root)
	follower, err := pegasussim.Start(ctx, pegasussim.Options{
		Tables: []pegasussim.TableSpec{{Name: "demo", Partitions: 16}}, Strict: true,
		ClusterID: 2, DupGroup: map[string]uint8{"master": 1, "follower": 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	ini := fmt.Sprintf(`[pegasus.clusters]
follower = %s
[duplication-group]
master = 1
follower = 2
[dupbridge]
listen = %s
state_dir = %s
shutdown_timeout = 2s
checkpoint_copy_rate = %d
checkpoint_copy_parallel = 1
checkpoint_load_rate = 8000
[table.demo]
follower_cluster = follower
master_cluster = master
`, follower.MetaAddr(), addr, state, staged/2)
	cfgPath := filepath.Join(dir, "dupbridge.ini")
	if err := os.WriteFile(cfgPath, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	logs, err := os.Create(filepath.Join(dir, "bridge.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var proc *exec.Cmd
	start := func() {
		proc = exec.Command(bin, "serve", "--config", cfgPath, "--log-level", "warn")
		proc.Stdout, proc.Stderr = logs, logs
		if err := proc.Start(); err != nil {
			t.Fatal(err)
		}
	}
	kill := func(when string) {
		if err := proc.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		_ = proc.Wait()
		t.Logf("bridge killed (SIGKILL) %s", when)
	}
	defer func() {
		if proc.ProcessState == nil {
			kill("at the end")
		}
	}()
	staging := filepath.Join(state, "checkpoints", "demo")

	start()
	waitFor(t, `the bridge to answer "creating"`, func() bool {
		return createApp(ctx, addr, master.sim.MetaAddr(), "creating") == nil
	})
	waitFor(t, "the copy to be under way", copyUnderWay(staging))
	kill("during the copy")
	start()
	waitFor(t, "the load to be under way", loadUnderWay(staging))
	if err := createApp(ctx, addr, master.sim.MetaAddr(), "created"); rpcclient.ErrName(err) != codec.ErrorBusyCreating {
		t.Fatalf(`"created" during the load: %v`, err)
	}
	kill("during the load")
	start()
	waitFor(t, `"created" to succeed`, func() bool {
		return createApp(ctx, addr, master.sim.MetaAddr(), "created") == nil
	})
	checkFullCopy(t, ctx, follower, &verify.State{Keys: map[string]verify.Value{}}, fresh, now)
	if _, err := os.Stat(staging); !os.IsNotExist(err) {
		t.Errorf("staging directory left after the load: %v", err)
	}
}

// buildBinary builds cmd/dupbridge into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	root, err := testfix.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "dupbridge")
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/dupbridge")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
