package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/internal/testfix"
)

// documentedKeys reads the configuration reference of docs/operations.md:
// per "### [section]" heading under "## Configuration reference", the
// first cell of each table row that names a key (`key`), with its default
// cell.
func documentedKeys(t *testing.T) map[string]map[string]string {
	t.Helper()
	root, err := testfix.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	in, sec := false, ""
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "## "):
			in = l == "## Configuration reference"
		case !in:
		case strings.HasPrefix(l, "### ["):
			sec = strings.TrimSuffix(strings.TrimPrefix(l, "### ["), "]")
			out[sec] = map[string]string{}
		case sec != "" && strings.HasPrefix(l, "| `"):
			cells := strings.Split(l, "|")
			if len(cells) < 4 {
				t.Fatalf("short row in [%s]: %q", sec, l)
			}
			key := strings.Trim(strings.TrimSpace(cells[1]), "`")
			out[sec][key] = strings.TrimSpace(cells[2])
		}
	}
	return out
}

// TestKeysDocumented: the configuration reference lists exactly the keys
// the parser accepts, section by section, each with a default.
func TestKeysDocumented(t *testing.T) {
	doc := documentedKeys(t)
	known := KnownKeys()
	for sec, keys := range known {
		d, ok := doc[sec]
		if !ok {
			t.Errorf("docs/operations.md has no \"### [%s]\" section", sec)
			continue
		}
		for _, k := range keys {
			def, ok := d[k]
			switch {
			case !ok:
				t.Errorf("[%s] %s is accepted by the parser but missing from docs/operations.md", sec, k)
			case def == "":
				t.Errorf("[%s] %s has no default in docs/operations.md", sec, k)
			}
		}
		for k := range d {
			if !slices.Contains(keys, k) {
				t.Errorf("[%s] %s is documented but the parser does not accept it", sec, k)
			}
		}
	}
	for sec := range doc {
		if _, ok := known[sec]; !ok {
			t.Errorf("docs/operations.md documents [%s], which the parser does not know", sec)
		}
	}
}

// TestKnownKeysAccepted: every key KnownKeys lists is one Parse accepts
// (no "unknown key" problem), and a key it does not list is refused.
func TestKnownKeysAccepted(t *testing.T) {
	const base = "[pegasus.clusters]\nf = 127.0.0.1:34601\n[duplication-group]\nm = 1\n"
	known := KnownKeys()
	// try reports whether Parse takes key in sec as a key it knows (its
	// value may still be wrong for it).
	try := func(sec, key string) bool {
		text := base + "[dupbridge]\nlisten = 127.0.0.1:34601\n"
		if sec == SectionBridge {
			text += key + " = x\n"
		}
		text += "[table.t]\nfollower_cluster = f\n"
		if sec != SectionBridge {
			text += key + " = x\n"
		}
		_, err := Parse([]byte(text), "t.ini")
		var ce *Error
		if err == nil {
			return true
		}
		if !errors.As(err, &ce) {
			t.Fatalf("%s: %v", key, err)
		}
		for _, p := range ce.Problems {
			if p.Key == key && strings.Contains(p.Msg, "unknown key") {
				return false
			}
		}
		return true
	}
	for _, sec := range []string{SectionBridge, SectionTablePrefix + "NAME"} {
		if len(known[sec]) < 10 {
			t.Fatalf("[%s]: only %v", sec, known[sec])
		}
		for _, k := range known[sec] {
			if !try(sec, k) {
				t.Errorf("[%s] %s: listed by KnownKeys, refused by Parse", sec, k)
			}
		}
		if try(sec, "no_such_key") {
			t.Errorf("[%s] no_such_key: accepted", sec)
		}
	}
}
