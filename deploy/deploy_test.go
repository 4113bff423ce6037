package deploy

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/internal/dashboard"
	"github.com/dupbridge/dupbridge/internal/testdeps"
	"github.com/dupbridge/dupbridge/internal/testfix"
)

// run runs a tool and fails the test with its output when it fails.
func run(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestAlertRules: alerts.yml is valid for promtool and passes our unit
// tests of every rule (alerts_test.yml: each rule fires where it should,
// stays silent beside it, with the annotations rendered as written).
func TestAlertRules(t *testing.T) {
	promtool := testdeps.Tool(t, "prometheus", "promtool")
	text, err := os.ReadFile(filepath.Join("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules := strings.Count(string(text), "- alert: ")
	out := run(t, "prometheus", promtool, "check", "rules", "alerts.yml")
	if rules < 8 || !strings.Contains(out, fmt.Sprintf("SUCCESS: %d rules found", rules)) {
		t.Errorf("promtool check rules: %s", out)
	}
	out = run(t, "prometheus", promtool, "test", "rules", "alerts_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules: %s", out)
	}
}

// dashboardVars are values for the dashboard's variables that select every
// bridge and table (Grafana's "All" is ".*").
func dashboardVars() map[string]string {
	return map[string]string{"job": ".*", "instance": ".*", "table": ".*", "__rate_interval": "1m", "datasource": "prometheus"}
}

// TestDashboardQueriesParse: every panel query of the Grafana dashboard is
// valid PromQL once its variables are expanded. promtool parses them as
// recording rules; integration's Prometheus test evaluates them against a
// scraped bridge.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := testdeps.Tool(t, "prometheus", "promtool")
	qs, err := dashboard.Queries(filepath.Join("grafana", "dupbridge.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 20 {
		t.Fatalf("only %d queries in the dashboard", len(qs))
	}
	vars := dashboardVars()
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for _, q := range qs {
		expr, err := dashboard.Expand(q.Expr, vars)
		if err != nil {
			t.Fatalf("panel %q %s: %v", q.Panel, q.RefID, err)
		}
		fmt.Fprintf(&rules, "      - record: panel_%d_%s\n        expr: %q\n", q.PanelID, q.RefID, expr)
	}
	path := filepath.Join(t.TempDir(), "panels.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(t, ".", promtool, "check", "rules", path); !strings.Contains(out, fmt.Sprintf("SUCCESS: %d rules found", len(qs))) {
		t.Errorf("promtool check rules: %s", out)
	}
}

// unit reads a systemd unit's assignments: "Section.Key" → values in order.
func unit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sec := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[' && strings.HasSuffix(l, "]"):
			sec = l[1 : len(l)-1]
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || sec == "" {
				t.Fatalf("%s:%d: not an assignment: %q", path, n, l)
			}
			out[sec+"."+k] = append(out[sec+"."+k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSystemdUnit: the unit runs the bridge as its own user with the
// state directory the configuration defaults to, restarts on failure,
// raises the file limit, is hardened, and gives the drain time to finish.
// systemd-analyze verify checks it with the real binary in ExecStart, whose
// --check start step is run on the example configuration; systemd-sysusers
// creates the user in a scratch root.
func TestSystemdUnit(t *testing.T) {
	u := unit(t, filepath.Join("systemd", "dupbridge.service"))
	for _, tc := range []struct{ key, want string }{
		{"Service.User", "dupbridge"},
		{"Service.Group", "dupbridge"},
		{"Service.StateDirectory", strings.TrimPrefix(config.DefaultStateDir, "/var/lib/")},
		{"Service.Restart", "on-failure"},
		{"Service.LimitNOFILE", "1048576"},
		{"Service.ProtectSystem", "strict"},
		{"Service.ProtectHome", "yes"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.PrivateTmp", "yes"},
		{"Service.CapabilityBoundingSet", ""},
		{"Service.KillSignal", "SIGTERM"},
		{"Install.WantedBy", "multi-user.target"},
	} {
		if got := u[tc.key]; len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, got, tc.want)
		}
	}
	if !strings.HasPrefix(config.DefaultStateDir, "/var/lib/") {
		t.Errorf("config.DefaultStateDir %s is not under /var/lib, where StateDirectory puts it", config.DefaultStateDir)
	}
	if stop, err := time.ParseDuration(u["Service.TimeoutStopSec"][0]); err != nil || stop <= config.DefaultShutdownTimeout {
		t.Errorf("TimeoutStopSec %v must exceed the drain's shutdown_timeout %v", u["Service.TimeoutStopSec"], config.DefaultShutdownTimeout)
	}

	// The real binary in place of /usr/local/bin/dupbridge, the example
	// configuration in place of /etc/dupbridge/dupbridge.ini.
	root, err := testfix.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dupbridge")
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("no go tool on PATH to build the binary")
	}
	run(t, root, goTool, "build", "-o", bin, "./cmd/dupbridge")
	example := filepath.Join(root, "examples", "dupbridge.ini")
	for _, line := range u["Service.ExecStartPre"] {
		args := strings.Fields(strings.ReplaceAll(line, "/etc/dupbridge/dupbridge.ini", example))
		if args[0] != "/usr/local/bin/dupbridge" {
			t.Fatalf("ExecStartPre runs %s", args[0])
		}
		run(t, root, bin, args[1:]...)
	}
	text, err := os.ReadFile(filepath.Join("systemd", "dupbridge.service"))
	if err != nil {
		t.Fatal(err)
	}
	unitPath := filepath.Join(dir, "dupbridge.service")
	if err := os.WriteFile(unitPath, []byte(strings.ReplaceAll(string(text), "/usr/local/bin/dupbridge", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	analyze := testdeps.Tool(t, "systemd", "systemd-analyze")
	if out := run(t, dir, analyze, "verify", unitPath); strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify warns:\n%s", out)
	}

	sysroot := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(sysroot, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	sysusers, err := filepath.Abs(filepath.Join("systemd", "dupbridge.sysusers"))
	if err != nil {
		t.Fatal(err)
	}
	run(t, dir, testdeps.Tool(t, "systemd", "systemd-sysusers"), "--root="+sysroot, sysusers)
	passwd, err := os.ReadFile(filepath.Join(sysroot, "etc", "passwd"))
	if err != nil || !strings.Contains(string(passwd), "dupbridge:x:") || !strings.Contains(string(passwd), ":"+config.DefaultStateDir+":") {
		t.Errorf("systemd-sysusers made no dupbridge user with home %s: %s (%v)", config.DefaultStateDir, passwd, err)
	}
}
