package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/walwriter"
)

// BenchmarkBridgeVsForwarder replays the same plogs, with Pegasus's own
// shipping discipline, into a simulated follower of the same layout:
//   - ours:     replay -> the bridge (decodes, hashes and re-routes every
//     entry, ships per follower partition) -> simulator;
//   - baseline: replay -> a plain TCP forwarder (io.Copy both ways, one per
//     simulator endpoint) -> simulator.
//
// It reports mutations/s and MB/s (of writes) at full speed, then runs one
// more replay at half of the full-speed rate it measured and reports the
// batch round-trip latency p50/p99 there; ours minus baseline is the
// latency the bridge adds.
//
// Every replay of ours meets a fresh bridge: the bridge's per-key order
// guard remembers the writes it forwarded, and on a repeated replay would
// drop, rather than ship as the forwarder does, every entry a later write of
// its key superseded (some 4% of this log).
func BenchmarkBridgeVsForwarder(b *testing.B) { bridgeVsForwarder(b, 1) }

// BenchmarkBridgeVsForwarder8Conns is BenchmarkBridgeVsForwarder with one
// master connection per master partition (8), as the replica servers of a
// master cluster open them: each partition's plog is replayed by its own
// replay (own connections), all at once. Throughput is all mutations over
// the slowest replay's time; at half rate each replay gets an eighth of
// the rate, and the latency reported is the median of their p50s and the
// largest p99.
func BenchmarkBridgeVsForwarder8Conns(b *testing.B) { bridgeVsForwarder(b, 8) }

func bridgeVsForwarder(b *testing.B, conns int) {
	n := 40_000
	if testing.Short() {
		n = 10_000
	}
	paths, _ := generate(b, walwriter.GenOptions{
		AppID: 5, Partitions: 8, Mutations: n, Seed: 5, FinalEmpty: true,
		HashKeys: 20_000, SortKeys: 8, ValueMin: 64, ValueMax: 256,
	})
	b.Run("ours", func(b *testing.B) {
		env, err := localcluster.Start(context.Background(), localcluster.Options{FollowerPartitions: 8})
		if err != nil {
			b.Fatal(err)
		}
		defer env.Close()
		fresh := func() error { return env.RestartBridge(context.Background()) }
		benchReplay(b, fresh, spread(conns, paths, func(o replay.Options, paths []string) (replay.Summary, error) {
			return env.Replay(context.Background(), paths, o)
		}))
	})
	b.Run("baseline", func(b *testing.B) {
		sim, err := pegasussim.Start(context.Background(), pegasussim.Options{
			Tables:    []pegasussim.TableSpec{{Name: "demo", Partitions: 8}},
			Replicas:  3,
			ClusterID: localcluster.FollowerClusterID,
			DupGroup:  map[string]uint8{"master": localcluster.MasterClusterID, "follower": localcluster.FollowerClusterID},
		})
		if err != nil {
			b.Fatal(err)
		}
		defer sim.Close()
		fw, err := startForwarders(append([]string{sim.MetaAddr()}, sim.ReplicaAddrs()...))
		if err != nil {
			b.Fatal(err)
		}
		defer fw.close()
		benchReplay(b, nil, spread(conns, paths, func(o replay.Options, paths []string) (replay.Summary, error) {
			o.MetaAddrs = []string{sim.MetaAddr()} // reached through its forwarder (Dial)
			o.Table = "demo"
			o.ClusterID = localcluster.MasterClusterID
			o.Paths = paths
			o.RetryDelay = 100 * time.Millisecond
			// The simulator's config names its own endpoints; the master
			// reaches each through its forwarder.
			o.Client = rpcclient.Options{Dial: fw.dial}
			return replay.Run(context.Background(), o)
		}))
	})
}

// spread runs one replay over all paths (conns 1), or one replay per path
// at once (each with its own connections, as one master replica server
// per partition) and merges their summaries: mutations and bytes add up,
// the time is the slowest's, the rate is split evenly, the latency is the
// median p50 and the largest p99.
func spread(conns int, paths []string, run func(replay.Options, []string) (replay.Summary, error)) func(replay.Options) (replay.Summary, error) {
	if conns <= 1 {
		return func(o replay.Options) (replay.Summary, error) { return run(o, paths) }
	}
	return func(o replay.Options) (replay.Summary, error) {
		o.Rate /= float64(len(paths))
		sums := make([]replay.Summary, len(paths))
		errs := make([]error, len(paths))
		var wg sync.WaitGroup
		for i, p := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sums[i], errs[i] = run(o, []string{p})
			}()
		}
		wg.Wait()
		var out replay.Summary
		p50s := make([]float64, 0, len(sums))
		for _, s := range sums {
			out.Mutations += s.Mutations
			out.Bytes += s.Bytes
			out.Elapsed = max(out.Elapsed, s.Elapsed)
			out.LatencyP99Ms = max(out.LatencyP99Ms, s.LatencyP99Ms)
			p50s = append(p50s, s.LatencyP50Ms)
		}
		slices.Sort(p50s)
		out.LatencyP50Ms = p50s[len(p50s)/2]
		return out, errors.Join(errs...)
	}
}

// benchReplay runs b.N full-speed replays, then one at half their rate.
// fresh, when set, resets the path's state before every replay but the
// first, outside the timer.
func benchReplay(b *testing.B, fresh func() error, run func(replay.Options) (replay.Summary, error)) {
	reset := func() {
		if fresh == nil {
			return
		}
		if err := fresh(); err != nil {
			b.Fatal(err)
		}
	}
	var muts, bytes int64
	var elapsed, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			b.StopTimer()
			reset()
			b.StartTimer()
		}
		cpu0 := processCPU(b)
		sum, err := run(replay.Options{})
		cpu += processCPU(b) - cpu0
		if err != nil {
			b.Fatal(err)
		}
		muts += sum.Mutations
		bytes += sum.Bytes
		elapsed += sum.Elapsed
	}
	b.StopTimer()
	if elapsed <= 0 || muts == 0 {
		b.Fatal("nothing replayed")
	}
	b.SetBytes(bytes / int64(b.N))
	rate := float64(muts) / elapsed.Seconds()
	b.ReportMetric(rate, "mutations/s")
	// The whole process's CPU (replay, path, simulator) per mutation: the
	// two paths differ only in the bridge against the forwarder, and CPU
	// suffers less than wall time from other load on a shared machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(muts), "cpu-us/mutation")
	reset()
	half, err := run(replay.Options{Rate: rate / 2})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(half.LatencyP50Ms, "p50-ms@half-rate")
	b.ReportMetric(half.LatencyP99Ms, "p99-ms@half-rate")
}

// processCPU is the user plus system CPU time this process has used.
func processCPU(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// forwarders is one plain TCP forwarder per target address. close waits
// for every goroutine it started, the copying ones included.
type forwarders struct {
	front  map[string]string // target -> forwarder address
	lns    []net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	conns  []net.Conn
}

func startForwarders(targets []string) (*forwarders, error) {
	f := &forwarders{front: map[string]string{}}
	for _, t := range targets {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.close()
			return nil, err
		}
		f.lns = append(f.lns, ln)
		f.front[t] = ln.Addr().String()
		f.wg.Add(1)
		go f.serve(ln, t)
	}
	return f, nil
}

func (f *forwarders) serve(ln net.Listener, target string) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		if f.closed { // accepted just before close
			f.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		f.conns = append(f.conns, c, up)
		f.wg.Add(2)
		f.mu.Unlock()
		go func() { defer f.wg.Done(); io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
		go func() { defer f.wg.Done(); io.Copy(c, up); c.(*net.TCPConn).CloseWrite() }()
	}
}

func (f *forwarders) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	front, ok := f.front[addr]
	if !ok {
		return nil, fmt.Errorf("forwarder: no forwarder for %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, front)
}

func (f *forwarders) close() {
	for _, ln := range f.lns {
		ln.Close()
	}
	f.mu.Lock()
	f.closed = true
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
