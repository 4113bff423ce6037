package thrift_test

import (
	"context"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/dupbridge/dupbridge/idl/base"
	"github.com/dupbridge/dupbridge/idl/gen/meta"
	"github.com/dupbridge/dupbridge/idl/schema"
	"github.com/dupbridge/dupbridge/thrift"
)

// benchQueryCfgResponse is a 64-partition table with three replicas each,
// with both the rpc_address and the host_port fields (wire.md §4.1).
func benchQueryCfgResponse() *meta.QueryCfgResponse {
	resp := &meta.QueryCfgResponse{Err: &base.ErrorCode{Errno: "ERR_OK"}, AppID: 3, PartitionCount: 64, IsStateful: true}
	for i := int32(0); i < 64; i++ {
		ip := [4]byte{10, 0, 0, byte(i%3 + 1)}
		resp.Partitions = append(resp.Partitions, &meta.PartitionConfiguration{
			Pid: &base.Gpid{Appid: 3, PartitionIndex: i}, Ballot: 7, MaxReplicaCount: 3,
			Primary:             base.NewIPv4Address(ip, 34801),
			Secondaries:         []*base.RPCAddress{base.NewIPv4Address([4]byte{10, 0, 0, 9}, 34801), base.NewIPv4Address([4]byte{10, 0, 0, 8}, 34801)},
			LastCommittedDecree: int64(i) * 1000,
			HpPrimary:           base.NewHostPort("replica-1.example", 34801),
			HpSecondaries:       []*base.HostPort{base.NewHostPort("replica-2.example", 34801), base.NewHostPort("replica-3.example", 34801)},
			HpLastDrops:         []*base.HostPort{},
		})
	}
	return resp
}

// BenchmarkWalkQueryCfgResponse: skipping a whole query_cfg_response with
// the schema (ours, zero-copy, no allocation) versus decoding it with the
// generated code over apache/thrift's TBinaryProtocol (baseline).
func BenchmarkWalkQueryCfgResponse(b *testing.B) {
	body := genEncode(b, benchQueryCfgResponse())
	s, err := schema.TypeOf(&meta.QueryCfgResponse{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r := thrift.NewReader(body)
			if err := r.SkipSchema(s); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "structs/s")
	})
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		buf := athrift.NewTMemoryBuffer()
		p := athrift.NewTBinaryProtocolConf(buf, nil)
		for i := 0; i < b.N; i++ {
			buf.Reset()
			buf.Write(body)
			var resp meta.QueryCfgResponse
			if err := resp.Read(context.Background(), p); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "structs/s")
	})
}

// BenchmarkEncodeQueryCfgResponse: re-encoding a decoded value with our
// Writer versus the generated Write.
func BenchmarkEncodeQueryCfgResponse(b *testing.B) {
	resp := benchQueryCfgResponse()
	body := genEncode(b, resp)
	s, err := schema.TypeOf(&meta.QueryCfgResponse{})
	if err != nil {
		b.Fatal(err)
	}
	r := thrift.NewReader(body)
	v, err := r.ReadValue(s)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		w := thrift.Writer{B: make([]byte, 0, len(body))}
		for i := 0; i < b.N; i++ {
			w.B = w.B[:0]
			if err := w.Value(&v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "structs/s")
	})
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		buf := athrift.NewTMemoryBuffer()
		p := athrift.NewTBinaryProtocolConf(buf, nil)
		for i := 0; i < b.N; i++ {
			buf.Reset()
			if err := resp.Write(context.Background(), p); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "structs/s")
	})
}
