// Command benchratio reads `go test -bench` output on stdin and prints, for
// every benchmark that has sub-benchmarks named "ours" and "baseline" (run
// side by side in the same process, on the same data), the throughput ratio
// ours/baseline. Ratios from one run are what we report: absolute numbers on
// these shared machines are noisy, ratios much less so.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
)

func main() {
	pairs, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
	if len(pairs) == 0 {
		fmt.Println("no ours/baseline pairs found")
		return
	}
	names := make([]string, 0, len(pairs))
	for n := range pairs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(pairs[n].line(n))
	}
}

func parse(r io.Reader) (map[string]*pair, error) {
	pairs := map[string]*pair{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		res, ok := parseLine(sc.Text())
		if !ok {
			continue
		}
		p := pairs[res.group]
		if p == nil {
			p = &pair{}
			pairs[res.group] = p
		}
		if res.side == "ours" {
			p.ours = &res
		} else {
			p.base = &res
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for n, p := range pairs {
		if p.ours == nil || p.base == nil {
			delete(pairs, n)
		}
	}
	return pairs, nil
}
