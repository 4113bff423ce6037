package server

import (
	"os"
	"runtime"
	"testing"
)

func TestReserveLoopProcs(t *testing.T) {
	cases := []struct {
		name  string
		env   string // "" leaves GOMAXPROCS unset
		loops int
		add   int
	}{
		{"loops", "", 3, 3},
		{"none", "", 0, 0},
		{"operator's GOMAXPROCS kept", "1", 3, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("GOMAXPROCS", c.env)
			} else if v, ok := os.LookupEnv("GOMAXPROCS"); ok {
				t.Skipf("GOMAXPROCS=%s is set for the test run", v)
			}
			start := runtime.GOMAXPROCS(0)
			before := ReserveLoopProcs(c.loops)
			defer runtime.GOMAXPROCS(before)
			if before != start || runtime.GOMAXPROCS(0) != start+c.add {
				t.Errorf("before %d (want %d), now %d (want %d)", before, start, runtime.GOMAXPROCS(0), start+c.add)
			}
		})
	}
	if EventLoops(0) != runtime.NumCPU() || EventLoops(3) != 3 {
		t.Errorf("EventLoops(0) = %d (NumCPU %d), EventLoops(3) = %d", EventLoops(0), runtime.NumCPU(), EventLoops(3))
	}
}
