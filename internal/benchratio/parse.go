package main

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// result is one benchmark line's numbers.
type result struct {
	group   string // benchmark name without the /ours or /baseline element
	side    string // "ours" or "baseline"
	nsPerOp float64
	metrics map[string]float64 // unit -> value, e.g. "MB/s", "allocs/op", "entries/s"
}

type pair struct{ ours, base *result }

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseLine parses "BenchmarkX/ours/sub-2   100   123 ns/op   4.5 MB/s ...".
// The "ours"/"baseline" element may sit anywhere in the name; the group is
// the name with that element removed.
func parseLine(s string) (result, bool) {
	m := benchLine.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return result{}, false
	}
	parts := strings.Split(m[1], "/")
	side, rest := "", parts[:0:0]
	for _, p := range parts {
		if p == "ours" || p == "baseline" {
			side = p
			continue
		}
		rest = append(rest, p)
	}
	if side == "" {
		return result{}, false
	}
	res := result{group: strings.Join(rest, "/"), side: side, metrics: map[string]float64{}}
	f := strings.Fields(m[2])
	for i := 0; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		if f[i+1] == "ns/op" {
			res.nsPerOp = v
		} else {
			res.metrics[f[i+1]] = v
		}
	}
	return res, res.nsPerOp > 0
}

// line renders one pair: the throughput ratio (baseline ns/op over ours
// ns/op, which equals the ratio of MB/s or items/s when both process the same
// data per op), then the domain metrics of both sides.
func (p *pair) line(name string) string {
	ratio := p.base.nsPerOp / p.ours.nsPerOp
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ours/baseline throughput = %.2fx (ours %s/op, baseline %s/op)",
		name, ratio, dur(p.ours.nsPerOp), dur(p.base.nsPerOp))
	for _, unit := range sortedUnits(p.ours.metrics, p.base.metrics) {
		o, ok1 := p.ours.metrics[unit]
		bs, ok2 := p.base.metrics[unit]
		switch {
		case ok1 && ok2:
			fmt.Fprintf(&b, "; %s %s vs %s", unit, num(o), num(bs))
		case ok1:
			fmt.Fprintf(&b, "; %s %s (ours)", unit, num(o))
		}
	}
	return b.String()
}

func sortedUnits(a, b map[string]float64) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]float64{a, b} {
		for u := range m {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	sort.Strings(out)
	return out
}

func dur(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.3gs", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.3gms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.3gµs", ns/1e3)
	}
	return fmt.Sprintf("%.3gns", ns)
}

func num(v float64) string {
	if v >= 1000 || v == float64(int64(v)) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
