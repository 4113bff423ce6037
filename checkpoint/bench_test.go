package checkpoint

import (
	"context"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/verify"
	"github.com/dupbridge/dupbridge/walwriter"
)

// BenchmarkLoadVsReplay: the same keys written into a simulated follower,
// either loaded from a checkpoint (ours: Load from an in-memory record
// source through the router, 8 master partitions) or replayed as the plog
// PUTs that wrote them (baseline: package replay with a master's shipping
// discipline). The follower has the master's 8 partitions, the only layout
// a plain replay places correctly (duplication.md §3.6). The plogs are PUT-only over a key space
// large enough that nearly every PUT writes a new key, so both sides write
// about the same keys per op; keys/s is reported for each.
func BenchmarkLoadVsReplay(b *testing.B) {
	const puts = 20000
	dir := b.TempDir()
	gen, err := walwriter.Generate(context.Background(), walwriter.GenOptions{
		Dir: dir, AppID: 1, Partitions: masterPart, Mutations: puts, Seed: 11, FinalEmpty: true,
		Mix: []walwriter.Weight{{Kind: walwriter.KindPut, Weight: 1}}, HashKeys: 1 << 20, SortKeys: 16, ValueMin: 50, ValueMax: 150,
	})
	if err != nil {
		b.Fatal(err)
	}
	var paths []string
	var parts [][]string
	for _, p := range gen.Partitions {
		paths = append(paths, p.Dir)
		parts = append(parts, []string{p.Dir})
	}
	st, err := verify.FromPlogs(parts)
	if err != nil {
		b.Fatal(err)
	}
	ts := uint64(time.Now().UnixMicro())
	var recs []Record
	for k, v := range st.Keys {
		recs = append(recs, Record{Key: []byte(k), Value: v.Value, ExpireTs: uint32(v.ExpireTs), Timetag: mutation.Timetag(ts, masterID, false)})
	}
	byPart := byPartition(recs, masterPart)
	for p, rs := range byPart {
		byPart[p] = NewMemorySource(rs).recs // sorted once, as a reader yields them
	}
	now := time.Now()
	c, rt := startFollower(b, masterPart, now)

	b.Run("ours", func(b *testing.B) {
		var keys int64
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			staged := stagedDir(b, masterPart)
			b.StartTimer()
			s, err := Load(context.Background(), LoadOptions{Dir: staged, Open: memOpener(byPart, nil), To: rt, MasterClusterID: masterID})
			if err != nil {
				b.Fatal(err)
			}
			keys += s.Keys
		}
		b.ReportMetric(float64(keys)/b.Elapsed().Seconds(), "keys/s")
	})
	b.Run("baseline", func(b *testing.B) {
		var keys int64
		for i := 0; i < b.N; i++ {
			s, err := replay.Run(context.Background(), replay.Options{
				MetaAddrs: []string{c.MetaAddr()}, Table: "follower", ClusterID: masterID, Paths: paths,
				RetryDelay: 20 * time.Millisecond, RPCTimeout: 5 * time.Second,
			})
			if err != nil {
				b.Fatal(err)
			}
			keys += s.Mutations
		}
		b.ReportMetric(float64(keys)/b.Elapsed().Seconds(), "keys/s")
	})
	b.Logf("%d PUTs wrote %d distinct keys", puts, len(recs))
}
