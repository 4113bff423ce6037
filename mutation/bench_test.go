package mutation

import (
	"bytes"
	"testing"
)

func BenchmarkPayloadHash(b *testing.B) {
	key := AppendRawKey(nil, bs("user_000012345678"), bs("profile:email"))
	cases := []struct {
		name    string
		code    Code
		payload []byte
	}{
		{"put", CodePut, AppendPut(nil, 0, key, bytes.Repeat(bs("v"), 256), 0)},
		{"remove", CodeRemove, AppendRemove(nil, 0, key)},
		{"multi_put_16", CodeMultiPut, func() []byte {
			r := MultiPutRequest{HashKey: bs("user_000012345678")}
			for i := 0; i < 16; i++ {
				r.Kvs = append(r.Kvs, KeyValue{Key: []byte{'s', byte(i)}, Value: bytes.Repeat(bs("v"), 64)})
			}
			return AppendMultiPut(nil, 0, &r)
		}()},
		{"duplicate_64", CodeDuplicate, manyEntries(64)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.payload)))
			b.ReportAllocs()
			var sink uint64
			for b.Loop() {
				h, err := PayloadHash(tc.code, tc.payload)
				if err != nil {
					b.Fatal(err)
				}
				sink += h
			}
			_ = sink
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mutations/s")
		})
	}
}

// BenchmarkDupIter walks a 64-entry request, hashing every entry and
// copying it into an outgoing request, as the bridge's replica face does.
func BenchmarkDupIter(b *testing.B) {
	body := manyEntries(64)
	b.Run("iterate", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		var (
			it DupIter
			e  DupEntry
		)
		n := 0
		for b.Loop() {
			if err := it.Reset(body); err != nil {
				b.Fatal(err)
			}
			for it.Next(&e) {
				n++
			}
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("iterate_hash_rewrite", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		var (
			it DupIter
			e  DupEntry
			w  DupRequestWriter
		)
		buf := make([]byte, 0, len(body))
		n := 0
		for b.Loop() {
			if err := it.Reset(body); err != nil {
				b.Fatal(err)
			}
			w.Begin(buf[:0], 0)
			for it.Next(&e) {
				if _, err := e.Hash(); err != nil {
					b.Fatal(err)
				}
				w.AppendRaw(e.Raw)
				n++
			}
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
			buf = w.Finish()
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
	})
}
