package server

import (
	"fmt"
	"testing"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
)

// syncShipper acknowledges every part inside Ship.
type syncShipper struct{ count int }

func (s *syncShipper) PartitionCount(string) int { return s.count }
func (s *syncShipper) Ship(_ *Part, done func(PartResult)) {
	done(PartResult{Status: PartAcked})
}

// BenchmarkDuplicateDispatch measures the replica face's hot path for one
// connection: decode a DUPLICATE frame in place, validate and hash every
// entry, split it over 16 follower partitions, copy the entries into the
// outgoing bodies, complete and write the reply. No network.
func BenchmarkDuplicateDispatch(b *testing.B) {
	for _, n := range []int{1, 30, 300} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			s, err := New(Options{Config: testConfig(b, nil), Shipper: &syncShipper{count: 16}, Listen: "127.0.0.1:0", HTTPListen: "-"})
			if err != nil {
				b.Fatal(err)
			}
			es := make([]mutation.DupEntry, n)
			for i := range es {
				es[i] = putEntry(fmt.Sprintf("user%06d", i), "profile", "some value of moderate size", int64(i), 1)
			}
			cl := &client{fr: codec.FramingRDSN}
			req := cl.request(1, codec.RPCDuplicate, 5, 0, dupBody(0, es...))
			fc := &fakeConn{}
			cs := newConnState(s, fc, "bench")
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fc.in = req
				cs.onTraffic() // decode, split, ship (acked at once), post
				cs.onTraffic() // write the reply from the outbox
				fc.out = fc.out[:0]
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			if st := s.Stats(); st.DupAcked != int64(b.N) {
				b.Fatalf("acked %d of %d", st.DupAcked, b.N)
			}
		})
	}
}
