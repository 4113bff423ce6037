// Package testfix finds, for tests, the captured Pegasus plog files kept
// beside the repository in ../shared/fixtures. They come from the Pegasus
// repository and are never committed here; a fresh clone has none, so the
// tests that read them skip with a message saying so, while the always-on
// tests use the copies our plog writer regenerates (walwriter).
package testfix

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// sharedRel is the captured fixtures' directory relative to the repository root.
const sharedRel = "../shared/fixtures"

// RepoRoot is the directory holding go.mod, found by walking up from the
// test's working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testfix: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Shared returns the captured fixtures' directory and whether it exists.
func Shared() (string, bool) {
	root, err := RepoRoot()
	if err != nil {
		return "", false
	}
	dir := filepath.Join(root, filepath.FromSlash(sharedRel))
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return dir, false
	}
	return dir, true
}

// SharedOrSkip returns the captured fixtures' directory, or skips t when
// it is absent (a user's fresh clone).
func SharedOrSkip(t testing.TB) string {
	t.Helper()
	dir, ok := Shared()
	if !ok {
		t.Skipf("captured plog fixtures not found at %s (relative to the repository root; a fresh clone has none): the regenerated copies are tested instead", sharedRel)
	}
	return dir
}
