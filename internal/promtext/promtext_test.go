package promtext

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `# HELP dup_requests Entries received.
# TYPE dup_requests counter
dup_requests{table="t"} 42
go_goroutines 7

# HELP x Some text with spaces.
x 1e+06
`
	s, h, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if s[`dup_requests{table="t"}`] != 42 || s["go_goroutines"] != 7 || s["x"] != 1e6 || len(s) != 3 {
		t.Fatalf("samples %v", s)
	}
	if h["dup_requests"] != "Entries received." || h["x"] != "Some text with spaces." {
		t.Fatalf("help %v", h)
	}
	if _, _, err := Parse(strings.NewReader("novalue\n")); err == nil {
		t.Fatal("a sample without a value was accepted")
	}
	if _, _, err := Parse(strings.NewReader("m notanumber\n")); err == nil {
		t.Fatal("a non-numeric value was accepted")
	}
}
