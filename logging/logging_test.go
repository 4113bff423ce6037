package logging

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dupbridge/dupbridge/config"
)

func TestFormatsAndLevel(t *testing.T) {
	cases := []struct {
		format string
		check  func(line string) bool
	}{
		{"json", func(l string) bool {
			var m map[string]any
			return json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "second" && m["k"] == "v"
		}},
		{"console", func(l string) bool {
			return strings.Contains(l, "INFO") && strings.Contains(l, "second") && strings.Contains(l, `"k": "v"`)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := New(config.Log{Level: "warn", Format: tc.format}, Options{Stderr: &buf})
			if err != nil {
				t.Fatal(err)
			}
			l.Info("first") // below warn: dropped
			l.Level.SetLevel(zapcore.InfoLevel)
			l.Info("second", zap.String("k", "v"))
			_ = l.Close()
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 1 || !tc.check(lines[0]) {
				t.Errorf("log = %q, want only the line after the level change", buf.String())
			}
		})
	}
}

func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dupbridge.log")
	l, err := New(config.Log{Level: "info", Format: "json", File: path, MaxSizeMB: 1, MaxBackups: 2}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10)
	for i := range 40 { // 40 × 64 KiB: 2.5 MiB, two rotations at 1 MiB
		l.Info("filler", zap.Int("i", i), zap.String("pad", big))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) < 2 || len(ents) > 3 {
		t.Fatalf("log dir holds %d files, want the log and 1-2 rotated backups: %v", len(ents), ents)
	}
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, above the 1 MiB rotation size", e.Name(), fi.Size())
		}
	}
}

func TestBadOptions(t *testing.T) {
	cases := []config.Log{
		{Level: "loud", Format: "json"},
		{Level: "info", Format: "xml"},
		{Level: "info", Format: "json", File: "/proc/nonexistent/dir/x.log"},
	}
	for _, c := range cases {
		if _, err := New(c, Options{}); err == nil {
			t.Errorf("New(%+v) = nil error", c)
		}
	}
}
