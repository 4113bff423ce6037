package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/internal/wanlink"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/verify"
	"github.com/dupbridge/dupbridge/walwriter"
)

// The WAN benchmark (make bench-wan): the link, a real
// toxiproxy-server at 15 ms each way (30 ms RTT) and 100 Mbit/s per
// connection, between the master side (the replay) and the follower side.
// It needs toxiproxy and minutes, so it runs only when DUPBRIDGE_BENCH_WAN
// is set (scripts/bench-wan.sh sets it); make bench skips it.
const wanEnv = "DUPBRIDGE_BENCH_WAN"

// wanWrites is the size of the JSON log (DUPBRIDGE_WAN_WRITES overrides).
const wanWrites = 200_000

// wanResult is one row of the table the benchmark prints.
type wanResult struct {
	name         string
	sum          replay.Summary // the full-speed run
	linkBytes    int64          // both directions, full-speed run
	lag          replay.Summary // the paced run at half the full-speed rate
	edgeCPUPerGB float64        // edge CPU-seconds per GB of raw entries; <0: no edge
	verifiedKeys int
	note         string
	// linkLag: (b)'s spool durable → applied on the follower, p50 and p99
	// in ms, already added into lag's LagP50Ms and LagP99Ms.
	linkLag [2]float64
}

// wanLog generates the benchmark's JSON log once and caches it under the
// temp dir (as BenchmarkPlogDecode does): 8 master partitions, JSON
// documents of 200..2000 bytes, the default write mix.
func wanLog(b testing.TB, n int) (paths []string, parts [][]string) {
	b.Helper()
	const app, partitions = 6, 8
	root := filepath.Join(os.TempDir(), fmt.Sprintf("dupbridge-bench-wan-json-%d-v1", n))
	done := filepath.Join(root, "complete")
	if _, err := os.Stat(done); err != nil {
		os.RemoveAll(root)
		start := time.Now()
		if _, err := walwriter.Generate(context.Background(), walwriter.GenOptions{
			Dir: root, AppID: app, Partitions: partitions, Mutations: n, Seed: 9, FinalEmpty: true,
			Values: walwriter.ValuesJSON, HashKeys: 20_000, SortKeys: 8, RotateBytes: 64 << 20,
		}); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated the %d-write JSON log in %v under %s", n, time.Since(start).Round(time.Millisecond), root)
	}
	for p := range partitions {
		d := walwriter.PlogDir(root, app, p)
		paths = append(paths, d)
		parts = append(parts, []string{d})
	}
	return paths, parts
}

// BenchmarkWAN compares, on the JSON log across the emulated WAN link:
//
//	(a) the pegasus discipline into a direct bridge beside the simulated
//	    follower (what Pegasus does today, with the bridge in front);
//	(b) replay (pegasus discipline) → edge on loopback → link → sink →
//	    simulator, ack = spool;
//	(c) the pipelined replay straight into the simulated follower.
//
// For each it prints throughput end to end (Run's time: from resolving the
// table and shipping the first write to the acknowledgement of the last,
// which the follower sends after applying it), end-to-end lag p50/p99 from
// a 10 s run at half of that rate (replay.Summary.LagP50: a round's
// scheduled time to its batch's acknowledgement), link bytes (both
// directions, counted on the master side's sockets) relative to the raw
// entry bytes, and edge CPU-seconds per GB where an edge exists. Every key
// is verified on the follower after the full-speed run.
func BenchmarkWAN(b *testing.B) {
	if os.Getenv(wanEnv) == "" {
		b.Skipf("set %s=1 (make bench-wan): needs toxiproxy and minutes", wanEnv)
	}
	n := wanWrites
	if v, err := strconv.Atoi(os.Getenv("DUPBRIDGE_WAN_WRITES")); err == nil && v > 0 {
		n = v
	}
	paths, parts := wanLog(b, n)
	link := wanlink.Start(b)
	var rows []wanResult
	b.Run("a-pegasus-bridge", func(b *testing.B) {
		rows = append(rows, wanPegasusBridge(b, link, paths, parts, true))
	})
	b.Run("b-edge-sink", func(b *testing.B) {
		rows = append(rows, wanEdgeSink(b, link, paths, parts, "", true))
	})
	// (b) with the edge's spool on tmpfs, where fsync costs nothing: not a
	// durable deployment, a profile. The gap to (b) is what the disk's
	// fsync latency costs the master's one-round-at-a-time discipline.
	if shm, err := os.Stat("/dev/shm"); err == nil && shm.IsDir() {
		b.Run("b-spool-on-tmpfs", func(b *testing.B) {
			dir, err := os.MkdirTemp("/dev/shm", "dupbridge-bench-spool-")
			if err != nil {
				b.Skip(err)
			}
			defer os.RemoveAll(dir)
			r := wanEdgeSink(b, link, paths, parts, dir, false)
			r.name = "b-spool-on-tmpfs"
			rows = append(rows, r)
		})
	}
	b.Run("c-pipelined", func(b *testing.B) {
		rows = append(rows, wanPipelined(b, link, paths, parts, 1, true))
	})
	// (c) again with the follower's usual 3 replica endpoints: 3
	// connections, each capped at the link's rate by toxiproxy, which
	// shows whether (c) is bound by the link's bandwidth.
	b.Run("c-pipelined-3conns", func(b *testing.B) {
		rows = append(rows, wanPipelined(b, link, paths, parts, 3, true))
	})
	printWAN(rows)
}

// wanPegasusBridge is (a): replay (pegasus discipline) → link → bridge →
// loopback → simulator.
// paced adds the 10 s run at half rate for the lag.
func wanPegasusBridge(b testing.TB, link *wanlink.Server, paths []string, parts [][]string, paced bool) wanResult {
	ctx := context.Background()
	env, err := localcluster.Start(ctx, localcluster.Options{FollowerPartitions: 8})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	px, err := link.Link(env.BridgeAddr, wanlink.WAN()) // the bridge keeps its address across restarts
	if err != nil {
		b.Fatal(err)
	}
	via := map[string]string{env.BridgeAddr: px.Addr}
	run := func(ctx context.Context, o replay.Options, cnt *wanlink.Counter) (replay.Summary, error) {
		o.Client = rpcclient.Options{Dial: wanlink.Dialer(via, cnt)}
		return env.Replay(ctx, paths, o)
	}
	res := wanResult{name: "a-pegasus-bridge", edgeCPUPerGB: -1}
	fullSpeed(b, &res, run)
	res.verifiedKeys = verifiedKeys(b, env, parts)
	if paced {
		// A fresh bridge for the paced run: its per-key order guard would
		// drop the log's writes as already forwarded.
		if err := env.RestartBridge(ctx); err != nil {
			b.Fatal(err)
		}
		res.lag = pacedRun(b, res.sum.MutationsPerSec/2, func(ctx context.Context, o replay.Options) (replay.Summary, error) {
			return run(ctx, o, nil)
		})
	}
	reportWAN(b, res)
	return res
}

// wanPipelined is (c): replay (pipelined) → link → simulator. With one
// replica endpoint everything crosses the link on one connection as in
// (a): toxiproxy's bandwidth toxic caps each connection, not the link.
func wanPipelined(b testing.TB, link *wanlink.Server, paths []string, parts [][]string, replicas int, paced bool) wanResult {
	ctx := context.Background()
	sim, err := pegasussim.Start(ctx, pegasussim.Options{
		Tables:    []pegasussim.TableSpec{{Name: "demo", Partitions: 8, ReplicaCount: replicas}},
		Replicas:  replicas,
		ClusterID: localcluster.FollowerClusterID,
		DupGroup:  map[string]uint8{"master": localcluster.MasterClusterID, "follower": localcluster.FollowerClusterID},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	via, err := link.Links(append([]string{sim.MetaAddr()}, sim.ReplicaAddrs()...), wanlink.WAN())
	if err != nil {
		b.Fatal(err)
	}
	run := func(ctx context.Context, o replay.Options, cnt *wanlink.Counter) (replay.Summary, error) {
		o.MetaAddrs = []string{sim.MetaAddr()}
		o.Table = "demo"
		o.ClusterID = localcluster.MasterClusterID
		o.Paths = paths
		o.Discipline = replay.DisciplinePipelined
		o.Window = 8
		o.RetryDelay = 100 * time.Millisecond
		o.Client = rpcclient.Options{Dial: wanlink.Dialer(via, cnt)}
		return replay.Run(ctx, o)
	}
	res := wanResult{name: "c-pipelined", edgeCPUPerGB: -1}
	if replicas > 1 {
		res.name = fmt.Sprintf("c-pipelined-%dconns", replicas)
	}
	fullSpeed(b, &res, run)
	want, err := verify.FromPlogs(parts)
	if err != nil {
		b.Fatal(err)
	}
	rep, err := verify.Follower(ctx, []string{sim.MetaAddr()}, "demo", want, verify.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if !rep.OK() {
		b.Fatalf("%d of %d keys wrong on the follower after the pipelined replay", rep.Mismatches, rep.Checked)
	}
	res.verifiedKeys = rep.Checked
	if paced {
		res.lag = pacedRun(b, res.sum.MutationsPerSec/2, func(ctx context.Context, o replay.Options) (replay.Summary, error) {
			return run(ctx, o, nil)
		})
	}
	reportWAN(b, res)
	return res
}

// sampleEdge polls the edge's durable and acknowledged LSNs every 2 ms
// until the returned function is called; that returns the p50 and p99, over
// records, of the time from durable in the spool to acknowledged by the
// sink, which the sink sends once the follower has applied the record.
// Resolution: the 2 ms poll.
func sampleEdge(w *localcluster.WAN) func() [2]float64 {
	type sample struct {
		at             time.Time
		durable, acked uint64
	}
	var got []sample
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			st := w.Edge.Edge.Stats()[w.Link.Table]
			got = append(got, sample{time.Now(), st.Durable, st.Acked})
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() [2]float64 {
		close(stop)
		<-done
		var lags []time.Duration // one per acknowledged record
		d := 0                   // first sample whose durable covers the record
		for i := 1; i < len(got); i++ {
			for lsn := got[i-1].acked + 1; lsn <= got[i].acked; lsn++ {
				for d < i && got[d].durable < lsn {
					d++
				}
				lags = append(lags, got[i].at.Sub(got[d].at))
			}
		}
		if len(lags) == 0 {
			return [2]float64{}
		}
		slices.Sort(lags)
		q := func(f float64) float64 { return float64(lags[int(f*float64(len(lags)-1))]) / float64(time.Millisecond) }
		return [2]float64{q(0.50), q(0.99)}
	}
}

// verifiedKeys checks every key the logs imply on env's follower and
// returns how many it checked.
func verifiedKeys(b testing.TB, env *localcluster.Env, parts [][]string) int {
	c, err := env.Check(context.Background(), parts)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Err(); err != nil {
		b.Fatal(err)
	}
	return c.Report.Checked
}

// fullSpeed replays once at full speed through a counting dialer, timed,
// into res's summary and link bytes.
func fullSpeed(b testing.TB, res *wanResult, run func(context.Context, replay.Options, *wanlink.Counter) (replay.Summary, error)) {
	var cnt wanlink.Counter
	timer(b, true)
	sum, err := run(context.Background(), replay.Options{}, &cnt)
	timer(b, false)
	if err != nil {
		b.Fatal(err)
	}
	res.sum, res.linkBytes = sum, cnt.Sent.Load()+cnt.Received.Load()
}

// pacedRun replays at rate for 10 s and returns the summary (its lag).
func pacedRun(b testing.TB, rate float64, run func(context.Context, replay.Options) (replay.Summary, error)) replay.Summary {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sum, err := run(ctx, replay.Options{Rate: rate})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		b.Fatal(err)
	}
	return sum
}

// timer starts (reset) or stops a benchmark's timer; tests have none.
func timer(tb testing.TB, start bool) {
	b, ok := tb.(*testing.B)
	switch {
	case !ok:
	case start:
		b.ResetTimer()
	default:
		b.StopTimer()
	}
}

func reportWAN(tb testing.TB, r wanResult) {
	b, ok := tb.(*testing.B)
	if !ok {
		return
	}
	b.ReportMetric(r.sum.MutationsPerSec, "mutations/s")
	b.ReportMetric(r.sum.MBPerSec, "raw-MB/s")
	b.ReportMetric(r.lag.LagP50Ms, "lag-p50-ms@half-rate")
	b.ReportMetric(r.lag.LagP99Ms, "lag-p99-ms@half-rate")
	if r.sum.Bytes > 0 {
		b.ReportMetric(float64(r.linkBytes)/float64(r.sum.Bytes), "link/raw-bytes")
	}
}

// wanEdgeSink is (b): replay (pegasus discipline) → edge on loopback →
// link → sink → simulator. Throughput is end to end under ack = spool: from
// the first write shipped until the edge's spool is drained, that is until
// the sink has acknowledged the last shipment, which it does once the
// follower has applied every part of it. Link bytes are both directions of
// the edge's connections to the sink. The lag is from a fresh deployment,
// also ack = spool, paced at half that rate for 10 s: the replay's lag
// (round scheduled → the edge's answer after the fsync) plus the edge's
// (record durable → acknowledged by the sink, i.e. applied on the
// follower), p50 to p50 and p99 to p99 (so the p99 is an upper bound).
//
// Edge CPU: the edge, the sink, the simulator and the replay share this
// process, so the figure is the whole process's CPU (getrusage) per GB of
// raw entries during the full-speed run, an upper bound for the edge.
//
// stateDir holds the edge's spool ("": a temp dir on the test's disk).
func wanEdgeSink(b testing.TB, link *wanlink.Server, paths []string, parts [][]string, stateDir string, paced bool) wanResult {
	ctx := context.Background()
	sinkAddr := freeAddr(b)
	px, err := link.Link(sinkAddr, wanlink.WAN())
	if err != nil {
		b.Fatal(err)
	}
	start := func(ack string, cnt *wanlink.Counter) *localcluster.WAN {
		dir := stateDir
		if dir == "" {
			dir = b.TempDir()
		}
		w, err := localcluster.StartWAN(ctx, localcluster.WANOptions{
			Options:  localcluster.Options{FollowerPartitions: 8},
			Link:     localcluster.LinkOptions{Ack: ack, SinkAddr: sinkAddr, RelaySink: px.Addr, StateDir: dir},
			EdgeDial: wanlink.Dialer(nil, cnt),
		})
		if err != nil {
			b.Fatal(err)
		}
		return w
	}
	res := wanResult{name: "b-edge-sink"}
	var cnt wanlink.Counter
	w := start("spool", &cnt)
	cpu0 := processCPU(b)
	timer(b, true)
	t0 := time.Now()
	sum, err := w.Replay(ctx, paths, replay.Options{})
	if err != nil {
		w.Close()
		b.Fatal(err)
	}
	drained(b, w)
	elapsed := time.Since(t0)
	timer(b, false)
	cpu := processCPU(b) - cpu0
	sum.Elapsed, sum.ElapsedSeconds = elapsed, elapsed.Seconds()
	sum.MutationsPerSec = float64(sum.Mutations) / elapsed.Seconds()
	sum.MBPerSec = float64(sum.Bytes) / 1e6 / elapsed.Seconds()
	res.sum, res.linkBytes = sum, cnt.Sent.Load()+cnt.Received.Load()
	res.edgeCPUPerGB = cpu.Seconds() / (float64(sum.Bytes) / 1e9)
	res.verifiedKeys = verifiedKeys(b, w.Env, parts)
	w.Close()
	if paced {
		// The sink's port is free again once the first deployment is closed.
		w := start("spool", nil)
		samples := sampleEdge(w)
		res.lag = pacedRun(b, res.sum.MutationsPerSec/2, func(ctx context.Context, o replay.Options) (replay.Summary, error) {
			return w.Replay(ctx, paths, o)
		})
		drained(b, w)
		res.linkLag = samples()
		b.Logf("b paced: %d mutations in %.1f s at a target of %.0f/s; lag master→spool p50 %.1f p99 %.1f ms, spool→follower p50 %.1f p99 %.1f ms",
			res.lag.Mutations, res.lag.ElapsedSeconds, res.sum.MutationsPerSec/2, res.lag.LagP50Ms, res.lag.LagP99Ms, res.linkLag[0], res.linkLag[1])
		res.lag.LagP50Ms += res.linkLag[0]
		res.lag.LagP99Ms += res.linkLag[1]
		w.Close()
	}
	reportWAN(b, res)
	return res
}

func printWAN(rows []wanResult) {
	printWANTo(os.Stdout, rows)
}

func printWANTo(w io.Writer, rows []wanResult) {
	fmt.Fprintf(w, "\n== WAN link: 30 ms RTT (15 ms each way), 100 Mbit/s per connection (toxiproxy)\n")
	fmt.Fprintf(w, "%-18s %12s %9s %12s %12s %9s %12s %8s\n", "path", "mutations/s", "raw MB/s", "lag p50 ms", "lag p99 ms", "link/raw", "edge CPU s/GB", "keys")
	var a float64
	for _, r := range rows {
		if r.note != "" {
			fmt.Fprintf(w, "%-18s %s\n", r.name, r.note)
			continue
		}
		cpu := "n/a"
		if r.edgeCPUPerGB >= 0 {
			cpu = fmt.Sprintf("%.2f", r.edgeCPUPerGB)
		}
		ratio := 0.0
		if r.sum.Bytes > 0 {
			ratio = float64(r.linkBytes) / float64(r.sum.Bytes)
		}
		p50, p99 := "-", "-" // no paced run
		if r.lag.Mutations > 0 {
			p50, p99 = fmt.Sprintf("%.1f", r.lag.LagP50Ms), fmt.Sprintf("%.1f", r.lag.LagP99Ms)
		}
		fmt.Fprintf(w, "%-18s %12.0f %9.2f %12s %12s %9.3f %12s %8d\n", r.name, r.sum.MutationsPerSec, r.sum.MBPerSec,
			p50, p99, ratio, cpu, r.verifiedKeys)
		if r.name == "a-pegasus-bridge" {
			a = r.sum.MutationsPerSec
		} else if a > 0 {
			fmt.Fprintf(w, "%-18s %.1fx (a)\n", "", r.sum.MutationsPerSec/a)
		}
	}
	fmt.Fprintf(w, "(edge CPU: the whole benchmark process's CPU, replay+edge+sink+simulator, per GB of raw entries: an upper bound for the edge)\n")
	fmt.Fprintf(w, "(lag: at half of each path's full-speed rate, 10 s; keys: verified on the follower after the full-speed run)\n")
}
