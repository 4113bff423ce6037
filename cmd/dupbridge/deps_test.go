package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoTestCode: the binary links neither test harnesses nor
// test vectors (design.md invariants), and the bridge's own packages never
// link the simulator or the demo wiring. It asks `go list -deps`, the same
// answer the build uses.
func TestBinaryLinksNoTestCode(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH: cannot list the binary's dependencies")
	}
	const mod = "github.com/dupbridge/dupbridge/"
	for _, tc := range []struct {
		pkg       string
		forbidden []string // package path prefixes, under the module
	}{
		{".", []string{"integration", "internal/wirevec", "internal/testfix", "internal/promtext", "internal/benchratio", "internal/zktest", "internal/testdeps"}},
		{"../../server/...", []string{"pegasussim", "localcluster", "integration", "internal/"}},
		{"../../router/...", []string{"pegasussim", "localcluster", "integration", "internal/"}},
		{"../../config/...", []string{"pegasussim", "localcluster", "integration", "internal/"}},
		{"../../metaproxy/...", []string{"pegasussim", "localcluster", "integration", "internal/"}},
	} {
		out, err := exec.Command(goTool, "list", "-deps", tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", tc.pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 5 {
			t.Fatalf("go list -deps %s listed only %v", tc.pkg, deps)
		}
		for _, d := range deps {
			for _, f := range tc.forbidden {
				if strings.HasPrefix(d, mod+f) {
					t.Errorf("%s links %s", tc.pkg, d)
				}
			}
		}
	}
}
