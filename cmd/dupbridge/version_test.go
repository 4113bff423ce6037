package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestPrintVersion(t *testing.T) {
	tests := []struct {
		name     string
		version  string
		settings map[string]string
		want     string
	}{
		{"checkout build", "(devel)", map[string]string{"vcs": "git", "vcs.revision": "0123abcd", "vcs.time": "2026-12-03T08:00:00Z", "vcs.modified": "true"},
			"dupbridge github.com/dupbridge/dupbridge (devel), go1.26.8, git revision 0123abcd (2026-12-03T08:00:00Z), modified\n"},
		{"clean tree", "v1.2.3", map[string]string{"vcs": "git", "vcs.revision": "0123abcd", "vcs.modified": "false"},
			"dupbridge github.com/dupbridge/dupbridge v1.2.3, go1.26.8, git revision 0123abcd\n"},
		{"no vcs", "v1.2.3", nil, "dupbridge github.com/dupbridge/dupbridge v1.2.3, go1.26.8, no VCS revision recorded\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/dupbridge/dupbridge", Version: tc.version}}
			for k, v := range tc.settings {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: k, Value: v})
			}
			var b bytes.Buffer
			printVersion(&b, bi)
			if b.String() != tc.want {
				t.Errorf("got  %q\nwant %q", b.String(), tc.want)
			}
		})
	}
}

// The command reads this test binary's own build info.
func TestVersionCommand(t *testing.T) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"version"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	bi, _ := debug.ReadBuildInfo()
	if !strings.HasPrefix(out.String(), "dupbridge ") || !strings.Contains(out.String(), bi.GoVersion) {
		t.Errorf("version: %q", out.String())
	}
}
