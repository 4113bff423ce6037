package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/ctlclient"
	"github.com/dupbridge/dupbridge/internal/testdeps"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/server"
	"github.com/dupbridge/dupbridge/walwriter"
)

// chromiumFlags run Debian's chromium headless, isolated from the machine:
// no sandbox (containers), no GPU, no network of its own beyond the page.
func chromiumFlags(profile string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile, "--virtual-time-budget=6000", "--window-size=1400,500"}
}

// TestStatusPage renders GET / in a real headless chromium after a replay
// (and with the table paused): the DOM holds the table's row with its
// state and the numbers /duplication gives, and a screenshot is kept
// (DUPBRIDGE_SCREENSHOT_DIR, else the test's temporary directory).
func TestStatusPage(t *testing.T) {
	browser := testdeps.Tool(t, "chromium", "chromium")
	paths, _ := generate(t, walwriter.GenOptions{
		AppID: 3, Partitions: 4, Mutations: 2_000, Seed: 9, FinalEmpty: true,
		HashKeys: 300, SortKeys: 4, ValueMin: 8, ValueMax: 100,
	})
	env := start(t, localcluster.Options{FollowerPartitions: 8, HTTP: true})
	sum := replayAll(t, env, paths, replay.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := ctlclient.New(env.HTTPAddr, ctlclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Control(ctx, env.Opts.Table, server.ControlRequest{Action: server.ActionPause}); err != nil {
		t.Fatal(err)
	}
	d, err := cl.Duplication(ctx, env.Opts.Table)
	if err != nil {
		t.Fatal(err)
	}
	var shipped uint64
	for _, p := range d.Tables[0].Partitions {
		shipped += p.ShippedEntries
	}
	if d.Tables[0].ReceivedEntries != sum.Entries || shipped == 0 {
		t.Fatalf("/duplication: received %d (replay shipped %d), shipped %d", d.Tables[0].ReceivedEntries, sum.Entries, shipped)
	}

	dir := os.Getenv("DUPBRIDGE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "dupbridge-status-page.png")
	url := "http://" + env.HTTPAddr + "/"
	run := func(extra ...string) string {
		cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
		defer ccancel()
		args := append(chromiumFlags(t.TempDir()), extra...)
		out, err := exec.CommandContext(cctx, browser, append(args, url)...).Output()
		if err != nil {
			t.Fatalf("chromium %v: %v", extra, err)
		}
		return string(out)
	}
	dom := run("--dump-dom")
	row := regexp.MustCompile(`(?s)<tr id="table-` + env.Opts.Table + `".*?</tr>`).FindString(dom)
	if row == "" {
		t.Fatalf("no row for table %s in the rendered page:\n%s", env.Opts.Table, dom)
	}
	cell := func(class string) string {
		m := regexp.MustCompile(`<td class="` + class + `">([^<]*)</td>`).FindStringSubmatch(row)
		if m == nil {
			t.Fatalf("row lacks cell %s: %s", class, row)
		}
		return m[1]
	}
	for _, c := range []struct{ class, want string }{
		{"state paused", "paused"},
		{"received", strconv.FormatInt(sum.Entries, 10)},
		{"shipped", strconv.FormatUint(shipped, 10)},
		{"follower", "follower/" + env.Opts.Table + " (8)"},
	} {
		if got := cell(c.class); got != c.want {
			t.Errorf("cell %s = %q, want %q", c.class, got, c.want)
		}
	}
	if lag, err := strconv.Atoi(cell("lag")); err != nil || lag < 0 {
		t.Errorf("lag cell %q is not a number of ms", cell("lag"))
	}
	if m := regexp.MustCompile(`<span id="err">([^<]*)</span>`).FindStringSubmatch(dom); m == nil || m[1] != "" {
		t.Errorf("the page's error line: %q", m)
	}
	if !strings.Contains(dom, `id="updated">updated `) {
		t.Error("the page never said it was updated")
	}

	run("--screenshot=" + shot)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("status page screenshot: %s", shot)
}
