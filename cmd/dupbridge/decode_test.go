package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/internal/wirevec"
)

func TestDecodeCommandFile(t *testing.T) {
	// The cobra command end to end on a temp file holding a wire.md-style
	// dump with offsets.
	dir := t.TempDir()
	path := filepath.Join(dir, "stream.hex")
	b := wirevec.Bytes(wirevec.THFTGetResponseNotFound)
	var dump strings.Builder
	for i := 0; i < len(b); i += 16 {
		dump.WriteString(hex.EncodeToString([]byte{byte(i >> 8), byte(i)}) + ": ")
		for _, c := range b[i:min(i+16, len(b))] {
			dump.WriteString(hex.EncodeToString([]byte{c}) + " ")
		}
		dump.WriteString("\n")
	}
	if err := os.WriteFile(path, []byte(dump.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := newDecodeCmd(&globalFlags{})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{path, "--role", "client"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"error_name":"ERR_OBJECT_NOT_FOUND"`) {
		t.Errorf("output %s", out.String())
	}
}
