package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// walRun runs `dupbridge wal ARGS...` and returns stdout, stderr and the error.
func walRun(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newWalCmd(&globalFlags{})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// genFixture runs `wal gen --fixture` for the first captured plog into dir
// and returns the path it printed.
func genFixture(t *testing.T, dir string) string {
	t.Helper()
	out, _, err := walRun(t, "gen", "--out", dir, "--fixture", "log.1.0.handle_real_private_log")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func walB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestWalDumpJSONFixture: the JSON of the re-created captured file carries
// the facts of storage.md §1.12.
func TestWalDumpJSONFixture(t *testing.T) {
	dir := t.TempDir()
	path := genFixture(t, dir)
	// Found by directory, as replay and verify find it (walreader.Discover).
	if path != filepath.Join(dir, "1.4.pegasus", "plog", "log.1.0") {
		t.Errorf("fixture written to %s", path)
	}
	if out, _, err := walRun(t, "stat", dir); err != nil || !strings.Contains(out, "gpid 1.4:") {
		t.Errorf("stat by directory: %v\n%s", err, out)
	}
	out, stderr, err := walRun(t, "dump", "--json", dir)
	if err != nil || stderr != "" {
		t.Fatalf("dump: %v %s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d lines", len(lines))
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	want := `{"file":"log.1.0","offset":76,"gpid":"1.4","ballot":3,"decree":1,"last_committed_decree":0,"timestamp_us":1521010430135992,` +
		`"updates":[{"code":"RPC_RRDB_RRDB_PUT","hash_key":"` + walB64("a") + `","sort_key":"` + walB64("a") + `","value":"` + walB64("a") + `","expire_ts_seconds":0}]}`
	if lines[0] != want {
		t.Errorf("line 1:\n%s\nwant\n%s", lines[0], want)
	}
	if want4 := `"decree":4,"last_committed_decree":3,"timestamp_us":1521010629560751,"updates":[{"code":"RPC_REPLICATION_WRITE_EMPTY"}]}`; !strings.HasSuffix(lines[3], want4) {
		t.Errorf("line 4: %s", lines[3])
	}
	// Committed only: decree 7 is not committed (storage.md §1.12).
	out, _, err = walRun(t, "dump", "--json", "--committed-only", path)
	if err != nil || strings.Count(out, "\n") != 6 {
		t.Errorf("committed-only: %d lines, %v", strings.Count(out, "\n"), err)
	}
	out, _, err = walRun(t, "dump", "--json", "--from-decree", "5", path)
	if err != nil || strings.Count(out, "\n") != 3 || !strings.Contains(out, `"decree":5,`) {
		t.Errorf("from-decree 5: %s %v", out, err)
	}
	// The table form.
	out, _, err = walRun(t, "dump", path)
	if err != nil || !strings.Contains(out, `PUT "a"/"a"="d"`) || !strings.Contains(out, "2018-03-14 06:57:09.560751") {
		t.Errorf("table: %s %v", out, err)
	}
}

func TestWalGenDumpStat(t *testing.T) {
	dir := t.TempDir()
	out, _, err := walRun(t, "gen", "--out", dir, "--mutations", "300", "--partitions", "2", "--seed", "7", "--value-size", "1:64",
		"--mix", "put=5,remove=1,batch=1,multi_put=1,multi_remove=1,empty=1,incr=1,cas=1,cam=1", "--ttl-fraction", "0.5", "--rotate-bytes", "4000")
	if err != nil || !strings.Contains(out, "wrote 302 mutations") {
		t.Fatalf("gen: %s %v", out, err)
	}
	plog := filepath.Join(dir, "1.1.pegasus", "plog")
	out, _, err = walRun(t, "dump", "--json", plog)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m struct {
			Gpid    string `json:"gpid"`
			Updates []map[string]any
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m.Gpid != "1.1" {
			t.Fatalf("gpid %s", m.Gpid)
		}
		for _, u := range m.Updates {
			c := u["code"].(string)
			codes[c] = true
			if u["error"] != nil || (c != "RPC_REPLICATION_WRITE_EMPTY" && u["hash_key"] == nil) {
				t.Errorf("update %v", u)
			}
			switch c {
			case "RPC_RRDB_RRDB_MULTI_PUT":
				if u["kvs"] == nil {
					t.Errorf("multi_put without kvs: %v", u)
				}
			case "RPC_RRDB_RRDB_MULTI_REMOVE":
				if u["sort_keys"] == nil {
					t.Errorf("multi_remove without sort_keys: %v", u)
				}
			case "RPC_RRDB_RRDB_INCR":
				if u["increment"] == nil {
					t.Errorf("incr without increment: %v", u)
				}
			}
		}
	}
	if len(codes) != 8 {
		t.Errorf("codes %v", codes)
	}
	out, _, err = walRun(t, "stat", plog)
	if err != nil || !strings.Contains(out, "gpid 1.1:") || !strings.Contains(out, "torn tail: none") || !strings.Contains(out, "RPC_RRDB_RRDB_MULTI_PUT") {
		t.Errorf("stat: %s %v", out, err)
	}
}

func TestWalDumpDamaged(t *testing.T) {
	path := genFixture(t, t.TempDir())
	data, _ := os.ReadFile(path)
	// Torn tail: warning on stderr, exit status 0.
	os.WriteFile(path, data[:900], 0o644)
	out, stderr, err := walRun(t, "dump", "--json", path)
	if err != nil || strings.Count(out, "\n") != 6 || !strings.Contains(stderr, "torn tail at offset 802") {
		t.Errorf("torn: %v %q", err, stderr)
	}
	out, _, err = walRun(t, "stat", path)
	if err != nil || !strings.Contains(out, "at offset 802 (98 bytes)") {
		t.Errorf("stat torn: %s %v", out, err)
	}
	// A flipped CRC byte: an error, or a warning with --skip-corrupt.
	bad := append([]byte(nil), data...)
	bad[551+8] ^= 1
	os.WriteFile(path, bad, 0o644)
	if _, _, err := walRun(t, "dump", path); err == nil || !strings.Contains(err.Error(), "block at offset 551") {
		t.Errorf("crc: %v", err)
	}
	out, stderr, err = walRun(t, "dump", "--json", "--skip-corrupt", path)
	if err != nil || strings.Count(out, "\n") != 6 || !strings.Contains(stderr, "skipped corrupt bytes at offset 551 (136 bytes)") {
		t.Errorf("skip: %v %d %q", err, strings.Count(out, "\n"), stderr)
	}
}

// wal gen --values json writes JSON documents (the PUT values dump shows),
// and an unknown --values is refused.
func TestWalGenJSONValues(t *testing.T) {
	dir := t.TempDir()
	out, _, err := walRun(t, "gen", "--out", dir, "--mutations", "50", "--seed", "3", "--values", "json", "--mix", "put=1")
	if err != nil || !strings.Contains(out, "wrote 51 mutations") {
		t.Fatalf("gen: %s %v", out, err)
	}
	out, _, err = walRun(t, "dump", "--json", filepath.Join(dir, "1.0.pegasus", "plog"))
	if err != nil {
		t.Fatal(err)
	}
	puts := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m struct {
			Updates []struct {
				Code  string  `json:"code"`
				Value *[]byte `json:"value"` // base64 in the dump
			}
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		for _, u := range m.Updates {
			if u.Code != "RPC_RRDB_RRDB_PUT" || u.Value == nil {
				continue
			}
			puts++
			if v := *u.Value; len(v) < 200 || len(v) > 2000 || !json.Valid(v) {
				t.Fatalf("value of %d bytes, valid JSON %v: %.80s", len(v), json.Valid(v), v)
			}
		}
	}
	if puts != 50 {
		t.Fatalf("%d PUT values seen, want 50", puts)
	}
	if _, _, err := walRun(t, "gen", "--out", t.TempDir(), "--values", "xml"); err == nil || !strings.Contains(err.Error(), "--values") {
		t.Fatalf("--values xml: %v", err)
	}
}
