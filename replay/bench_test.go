package replay

import (
	"context"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/walwriter"
)

// benchLogs writes the benchmark's logs: 8 master partitions, the default
// write mix.
func benchLogs(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	if _, err := walwriter.Generate(context.Background(), walwriter.GenOptions{
		Dir: dir, AppID: 1, Partitions: 8, Mutations: n, Seed: 3, FinalEmpty: true, RotateBytes: 4 << 20,
	}); err != nil {
		b.Fatal(err)
	}
	return dir
}

// runReplayBench replays the logs into the simulator b.N times and reports
// throughput: mutations/s and MB/s of raw_message bytes.
func runReplayBench(b *testing.B, c *pegasussim.Cluster, dir string, d Discipline) {
	o := testOptions(c, dir)
	o.Discipline = d
	var last Summary
	var elapsed time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Run(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		last = s
		elapsed += s.Elapsed
	}
	b.StopTimer()
	b.SetBytes(last.Bytes)
	if secs := elapsed.Seconds(); secs > 0 {
		b.ReportMetric(float64(last.Mutations)*float64(b.N)/secs, "mutations/s")
	}
	b.ReportMetric(float64(last.LatencyP50.Microseconds()), "p50-µs")
}

// BenchmarkReplayDiscipline compares the pipelined discipline (ours) with
// Pegasus's one-in-flight-per-hash (baseline), into the simulator.
func BenchmarkReplayDiscipline(b *testing.B) {
	dir := benchLogs(b, 16000)
	c := startSim(b, 8, false)
	b.Run("ours", func(b *testing.B) { runReplayBench(b, c, dir, DisciplinePipelined) })
	b.Run("baseline", func(b *testing.B) { runReplayBench(b, c, dir, DisciplinePegasus) })
}

// BenchmarkReplay prints replay throughput for both disciplines, against a
// follower answering at once and one whose replies take 1 ms.
func BenchmarkReplay(b *testing.B) {
	dir := benchLogs(b, 16000)
	for _, delay := range []time.Duration{0, time.Millisecond} {
		c := startSim(b, 8, false)
		c.SetDelay(codec.RPCDuplicate, delay)
		for _, d := range []Discipline{DisciplinePegasus, DisciplinePipelined} {
			b.Run(string(d)+"/delay="+delay.String(), func(b *testing.B) { runReplayBench(b, c, dir, d) })
		}
	}
}
