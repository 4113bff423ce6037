package main

import (
	"strings"
	"testing"
)

func TestParsePairs(t *testing.T) {
	in := `goos: linux
BenchmarkDecode/ours-2         	 1000000	      1000 ns/op	 400.00 MB/s	   250000 entries/s	       0 B/op	       0 allocs/op
BenchmarkDecode/baseline-2     	  200000	      5000 ns/op	  80.00 MB/s	    50000 entries/s	    4096 B/op	      42 allocs/op
BenchmarkOnlyOurs/ours-2       	     100	        10 ns/op
BenchmarkReplay/4parts/ours    	      10	  2000000 ns/op
BenchmarkReplay/4parts/baseline	      10	  8000000 ns/op
PASS`
	pairs, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 2 {
		t.Fatalf("want 2 complete pairs, got %d: %v", len(pairs), pairs)
	}
	d := pairs["BenchmarkDecode"]
	if d == nil || d.ours.nsPerOp != 1000 || d.base.nsPerOp != 5000 || d.base.metrics["allocs/op"] != 42 {
		t.Fatalf("BenchmarkDecode parsed wrong: %+v", d)
	}
	line := d.line("BenchmarkDecode")
	if !strings.Contains(line, "= 5.00x") || !strings.Contains(line, "allocs/op 0 vs 42") {
		t.Fatalf("unexpected line %q", line)
	}
	if r := pairs["BenchmarkReplay/4parts"]; r == nil || r.base.nsPerOp/r.ours.nsPerOp != 4 {
		t.Fatalf("nested pair parsed wrong: %+v", r)
	}
}

func TestParseLineRejectsNonBench(t *testing.T) {
	for _, s := range []string{"PASS", "ok  \tpkg\t0.1s", "BenchmarkX/other-2  10  5 ns/op", ""} {
		if _, ok := parseLine(s); ok {
			t.Errorf("parseLine(%q) accepted", s)
		}
	}
}
