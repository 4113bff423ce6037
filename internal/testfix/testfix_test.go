package testfix

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRepoRootHoldsGoMod(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("%s has no go.mod: %v", root, err)
	}
	dir, ok := Shared()
	if want := filepath.Join(filepath.Dir(root), "shared", "fixtures"); dir != want {
		t.Fatalf("Shared() = %q, want %q", dir, want)
	}
	if _, err := os.Stat(dir); (err == nil) != ok {
		t.Fatalf("Shared() reports %v, stat says %v", ok, err)
	}
}
