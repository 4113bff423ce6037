package pegasussim

import (
	"fmt"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
)

// BenchmarkDuplicateApply measures the simulator's duplicate path in
// memory (decode frame, decode entries, routing check, apply): a batch of
// 64 PUT entries per request, as the replay tool and the demo drive it.
// The 256 requests (16,384 keys of one partition) are cycled, so past the
// first 256 iterations every PUT overwrites a key it wrote before.
func BenchmarkDuplicateApply(b *testing.B) {
	c, err := New(Options{Replicas: 1, ClusterID: 2, DupGroup: map[string]uint8{"m": 1, "f": 2},
		Tables: []TableSpec{{Name: "temp", AppID: 2, Partitions: 1}}})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 64
	var reqs [][]byte
	for r := 0; r < 256; r++ {
		var d mutation.DupRequestWriter
		d.Begin(nil, 0)
		for i := 0; i < batch; i++ {
			k := rawKey([]byte(fmt.Sprintf("hk%06d", r*batch+i)), []byte("sk"))
			e := dupEnt(int64(r*batch+i), rpcPut, mutation.AppendPut(nil, 0, k, []byte("value-0123456789"), 0), 1, false)
			d.AppendEntry(&e)
		}
		h := codec.RequestHeader{ID: uint64(r), RPCName: rpcDuplicate, AppID: 2, PartitionIndex: 0}
		reqs = append(reqs, codec.AppendRequest(nil, codec.FramingRDSN, &h, d.Finish()))
	}
	s := session{ep: c.replicas[0], later: func(time.Duration, []byte) {}}
	var out []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(reqs[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var n int
		out, n, err = s.feed(reqs[i%len(reqs)], out[:0])
		if err != nil || n == 0 || len(out) == 0 {
			b.Fatalf("feed: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
}
