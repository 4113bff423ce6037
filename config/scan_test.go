package config

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// bigConfig is a file with n follower clusters, n master cluster ids (the
// sections that grow in a large fleet's file; ids repeat every 127) and
// n/10 tables, each into its own follower cluster.
func bigConfig(n int) []byte {
	var b strings.Builder
	b.WriteString("[pegasus.clusters]\n")
	for i := range n {
		fmt.Fprintf(&b, "  F%d = 10.%d.%d.%d:34601\n", i, i>>16&255, i>>8&255, i&255)
	}
	b.WriteString("[duplication-group]\n")
	for i := range n {
		fmt.Fprintf(&b, "  M%d = %d\n", i, i%127+1)
	}
	b.WriteString("[dupbridge]\n  listen = 127.0.0.1:34801\n")
	for i := range n / 10 {
		fmt.Fprintf(&b, "[table.t%d]\n  follower_cluster = F%d\n", i, i)
	}
	return []byte(b.String())
}

// TestParseManyEntries parses 200,000 clusters, 200,000 ids and 20,000
// tables; ids repeat every 127 (only 1..127 exist), so all but the first 127
// are reported as duplicates, capped at maxProblems plus a count of the
// rest.
func TestParseManyEntries(t *testing.T) {
	const n = 200_000
	_, err := Parse(bigConfig(n), "big.ini")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	if len(ce.Problems) != maxProblems+1 {
		t.Fatalf("%d problems, want %d", len(ce.Problems), maxProblems+1)
	}
	// Lines: 1 header, n clusters, 1 header, then M0 at n+3.
	if p := ce.Problems[0]; p.Line != n+3+127 || p.Key != "M127" || !strings.Contains(p.Msg, `already used by "M0"`) {
		t.Errorf("first problem = %v", p)
	}
	if last := ce.Problems[maxProblems].Msg; last != fmt.Sprintf("and %d more problem(s) not shown", n-127-maxProblems) {
		t.Errorf("last problem = %q", last)
	}

	// The same clusters with 127 ids parse, every cluster kept.
	text := strings.Replace(string(bigConfig(n)), "[duplication-group]\n", "[duplication-group]\n", 1)
	i := strings.Index(text, "[duplication-group]\n")
	j := strings.Index(text, "[dupbridge]")
	text = text[:i] + "[duplication-group]\n  A = 1\n" + text[j:]
	c, err := Parse([]byte(text), "big.ini")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Clusters) != n || c.Clusters["F199999"][0] != "10.3.13.63:34601" {
		t.Errorf("%d clusters, F199999 = %v", len(c.Clusters), c.Clusters["F199999"])
	}
	last := c.Tables[len(c.Tables)-1]
	if len(c.Tables) != n/10 || last.Name != "t19999" || last.AppID != n/10 || last.FollowerCluster != "F19999" {
		t.Errorf("%d tables, last %+v", len(c.Tables), last)
	}
}

// TestParseLineEndings: CRLF line ends and a byte order mark change
// nothing.
func TestParseLineEndings(t *testing.T) {
	for name, text := range map[string]string{
		"crlf": strings.ReplaceAll(base, "\n", "\r\n"),
		"bom":  "\xef\xbb\xbf" + base,
		"both": "\xef\xbb\xbf" + strings.ReplaceAll(base, "\n", "\r\n"),
	} {
		c, err := Parse([]byte(text), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.Clusters["B_real"][1] != "127.0.0.1:34602" || c.Bridge.Listen != "127.0.0.1:34801" || c.Tables[0].Line != 9 {
			t.Errorf("%s: %+v", name, c)
		}
	}
}

// TestParseCancelled: a cancelled context stops parsing (serve's SIGTERM).
func TestParseCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ParseContext(ctx, bigConfig(10_000), "big.ini")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestProblemsEscaped: bytes of a binary file never reach the terminal raw.
func TestProblemsEscaped(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"binary line", base + "\x00\x01\xff\x1b[2J\n", `line 11: not text (binary data?): "\x00\x01\xff\x1b[2J"`},
		{"escape in key", base + "  \x1b[31mred = 1\n", `line 11: [table.temp] \u001b[31mred: unknown key`},
		{"escape in section", base + "[\x1b]0;title\a]\n", `line 11: not a section header "[\x1b]0"`},
		{"escape in value", strings.Replace(base, "A = 1", "A = \x07\x1b", 1), `line 4: [duplication-group] A: cluster id "\a\x1b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text), "bin\x1b.ini")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, r := range msg {
				if r != '\n' && (r < 0x20 || r == 0x7f || r == 0xfffd) {
					t.Fatalf("raw %U in message:\n%s", r, msg)
				}
			}
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, `bin\u001b.ini:`) {
				t.Errorf("message lacks %q:\n%s", tc.want, msg)
			}
		})
	}
}

// TestParseGarbage: a large random binary file gives a bounded list of
// problems.
func TestParseGarbage(t *testing.T) {
	data := make([]byte, 1<<20)
	x := uint32(2463534242)
	for i := range data {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		data[i] = byte(x)
	}
	_, err := Parse(data, "garbage")
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) > maxProblems+1 || len(err.Error()) > 64<<10 {
		t.Fatalf("%d problems, %d bytes of message", len(ce.Problems), len(err.Error()))
	}
}

// BenchmarkParseLarge measures parsing 200,000 clusters, 200,000 ids and
// 20,000 tables (ini.v1 took over 70 s for the clusters alone) against a
// baseline that only splits the same text into lines and at '=', the least
// any INI reader does (internal/benchratio prints ours/baseline). Linear
// parsing keeps that ratio at a constant factor whatever the size.
func BenchmarkParseLarge(b *testing.B) {
	data := bigConfig(200_000)
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := Parse(data, "big.ini"); err == nil {
				b.Fatal("want the duplicate-id problems")
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			keys := 0
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				if _, _, ok := strings.Cut(sc.Text(), "="); ok {
					keys++
				}
			}
			if keys < 400_000 {
				b.Fatalf("%d keys", keys)
			}
		}
	})
}

func TestIsLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:34680": true, "127.1.2.3:1": true, "[::1]:34680": true, "localhost:34680": true, "LOCALHOST:1": true,
		"[::ffff:127.0.0.1]:1": true, "0.0.0.0:34680": false, ":34680": false, "[::]:34680": false, "10.0.0.1:34680": false,
		"bridge.example.com:34680": false, "nonsense": false,
	} {
		if got := IsLoopbackListen(addr); got != want {
			t.Errorf("IsLoopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
}
