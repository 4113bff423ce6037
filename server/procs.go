package server

import (
	"os"
	"runtime"
)

// A gnet event loop waits for events in epoll_wait through a plain
// syscall, which keeps its P (Go's scheduler slot) until the runtime's
// monitor takes it back, 20 µs to 10 ms later. With as many loops as Ps
// (gnet's default is one loop per CPU, and GOMAXPROCS is the CPU count),
// every P can be parked that way, and the goroutines that finish the
// loops' work (a meta or follower connection's reader, the HTTP server)
// wait for the monitor: on 2 CPUs the meta-proxy's query p99 was 17-19 ms
// against 1.3 ms for a goroutine-per-connection server, at a third of its
// throughput with the process below one CPU (BenchmarkQueryConfig,
// docs/metaproxy.md). Giving each loop a P of its own removes the wait.

// EventLoops is the number of gnet event loops a Server runs with
// configured (event_loops; 0 is one per CPU, gnet's multicore default).
func EventLoops(configured int) int {
	if configured > 0 {
		return configured
	}
	return runtime.NumCPU()
}

// ReserveLoopProcs raises GOMAXPROCS by loops, the event loops the process
// is about to run, so that loops parked in epoll_wait leave the Go
// scheduler its usual Ps; it returns the value before (for a caller that
// restores it). A GOMAXPROCS set in the environment is the operator's
// choice and is kept. It changes the whole process: only a program's main
// (and a benchmark standing in for it) calls it, once, before starting
// servers.
func ReserveLoopProcs(loops int) (before int) {
	before = runtime.GOMAXPROCS(0)
	if _, set := os.LookupEnv("GOMAXPROCS"); set || loops <= 0 {
		return before
	}
	runtime.GOMAXPROCS(before + loops)
	return before
}
