// Package testdeps gives tests the outside tools they run (promtool,
// prometheus, systemd-analyze, ...): it calls scripts/deps.sh, which
// installs what is missing on a fresh machine and does nothing when the tool
// is there, then finds the tool. Tests never start the system services;
// they run their own instances on loopback ports in temp directories.
package testdeps

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dupbridge/dupbridge/internal/testfix"
)

// Tool runs `scripts/deps.sh dep` and returns the path of bin (looked up on
// PATH, then in the repository's .tools). It fails the test when either
// step fails: a missing tool is a broken machine, not a reason to skip.
func Tool(t testing.TB, dep, bin string) string {
	t.Helper()
	if err := Install(dep); err != nil {
		t.Fatal(err)
	}
	root, err := testfix.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if p, err := exec.LookPath(bin); err == nil {
		return p
	}
	p := filepath.Join(root, ".tools", bin)
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("scripts/deps.sh %s ran, but %s is neither on PATH nor in .tools", dep, bin)
	}
	return p
}

// Install runs `scripts/deps.sh dep` (for a TestMain, which has no
// testing.TB).
func Install(dep string) error {
	root, err := testfix.RepoRoot()
	if err != nil {
		return err
	}
	if out, err := exec.Command("bash", filepath.Join(root, "scripts", "deps.sh"), dep).CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/deps.sh %s: %v\n%s", dep, err, out)
	}
	return nil
}
