package codec_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/idl/gen/rrdb"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/thrift"
)

// dupFrame builds a realistic RDSN RPC_RRDB_RRDB_DUPLICATE request as a HEAD
// master sends it (wire.md §4.6): at least 4 KiB of entries, each a PUT whose
// raw_message is a wrapped update_request with a 200-byte value. Everything
// is written with our thrift.Writer and codec.AppendRequest.
func dupFrame() (frame []byte, entries int) {
	value := bytes.Repeat([]byte("v"), 200)
	var raw, key []byte
	w := thrift.Writer{}
	var list thrift.Writer
	var last uint64
	for len(list.B) < 4096 {
		hk := fmt.Appendf(nil, "user%08d", entries)
		key = mutation.AppendRawKey(key[:0], hk, []byte("profile"))
		// raw_message: update_request{key, value, expire_ts_seconds} in the
		// RDSN one-field wrapper (wire.md §1.9, §4.4.1).
		rw := thrift.Writer{B: raw[:0]}
		rw.WrapperBegin(thrift.STRUCT, 0)
		rw.FieldHeader(thrift.STRUCT, 1)
		rw.Blob(key)
		rw.FieldHeader(thrift.STRUCT, 2)
		rw.Blob(value)
		rw.FieldHeader(thrift.I32, 3)
		rw.I32(0)
		rw.Stop()
		rw.WrapperEnd()
		raw = rw.B
		// duplicate_entry (wire.md §4.6).
		list.FieldHeader(thrift.I64, 1)
		list.I64(1700000000000000 + int64(entries))
		list.FieldHeader(thrift.STRUCT, 2)
		list.String(codec.RPCPut)
		list.FieldHeader(thrift.STRUCT, 3)
		list.Blob(raw)
		list.FieldHeader(thrift.BYTE, 4)
		list.I8(1)
		list.Stop()
		last = mutation.KeyHash(key)
		entries++
	}
	w.WrapperBegin(thrift.STRUCT, 0)
	w.FieldHeader(thrift.LIST, 1)
	w.ListHeader(thrift.STRUCT, entries)
	w.B = append(w.B, list.B...)
	w.Stop() // end of duplicate_request
	w.WrapperEnd()
	const app, pidx = 2, 5
	h := codec.RequestHeader{
		ID: 42, TraceID: 7, RPCName: codec.RPCDuplicate, AppID: app, PartitionIndex: pidx,
		Context: codec.ContextCppRequest, FromAddress: codec.MakeAddress([4]byte{10, 0, 0, 1}, 34801),
		TimeoutMs: 100000, ThreadHash: codec.ThreadHash(app, pidx), PartitionHash: last,
	}
	return codec.AppendRequest(nil, codec.FramingRDSN, &h, w.B), entries
}

// dupSummary is what both decoders extract: enough to route and forward
// every entry.
type dupSummary struct {
	entries int
	tsSum   int64
	hashSum uint64
	rawLen  int
	cluster int
}

var errBench = errors.New("bench: malformed duplicate_request")

// decodeOurs is the hot path: frame decode (zero-copy) and a schema walk of
// the entries with thrift.Reader, hashing each raw_message's key with
// mutation.PayloadHash. It allocates nothing.
func decodeOurs(d *codec.Decoder, frame []byte) (dupSummary, error) {
	var s dupSummary
	f, _, err := d.Decode(frame)
	if err != nil {
		return s, err
	}
	r := thrift.NewReader(f.Body)
	if _, _, err := r.ReadWrapperBegin(); err != nil {
		return s, err
	}
	typ, id, err := r.ReadFieldHeader()
	if err != nil || typ != thrift.LIST || id != 1 {
		return s, errBench
	}
	_, n, err := r.ReadListHeader()
	if err != nil {
		return s, err
	}
	for i := 0; i < n; i++ {
		var ts int64
		var code, raw []byte
		var cluster int8
		for {
			typ, id, err := r.ReadFieldHeader()
			if err != nil {
				return s, err
			}
			if typ == thrift.STOP {
				break
			}
			switch {
			case id == 1 && typ == thrift.I64:
				ts, err = r.ReadI64()
			case id == 2 && typ == thrift.STRUCT:
				code, err = r.ReadString()
			case id == 3 && typ == thrift.STRUCT:
				raw, err = r.ReadBlob()
			case id == 4 && typ == thrift.BYTE:
				cluster, err = r.ReadI8()
			case id == 5 && typ == thrift.BOOL:
				_, err = r.ReadBool()
			default:
				err = r.Skip(typ)
			}
			if err != nil {
				return s, err
			}
		}
		h, err := mutation.PayloadHash(mutation.ParseCode(code), raw)
		if err != nil {
			return s, err
		}
		s.entries++
		s.tsSum += ts
		s.hashSum += h
		s.rawLen += len(raw)
		s.cluster += int(cluster)
	}
	return s, nil
}

// decodeBaseline does the same with thrift-generated code over apache/thrift's
// TBinaryProtocol: the RDSN header with encoding/binary (there is no
// generated code for it), the wrapper header by hand, DuplicateRequest.Read,
// then for every entry UpdateRequest.Read of its raw_message and the key hash.
func decodeBaseline(frame []byte) (dupSummary, error) {
	var s dupSummary
	ctx := context.Background()
	if len(frame) < codec.RDSNHeaderSize || string(frame[:4]) != "RDSN" {
		return s, errBench
	}
	bodyLen := int(uint32(frame[16]) | uint32(frame[17])<<8 | uint32(frame[18])<<16 | uint32(frame[19])<<24)
	body := frame[codec.RDSNHeaderSize : codec.RDSNHeaderSize+bodyLen]
	p := athrift.NewTBinaryProtocolConf(&athrift.TMemoryBuffer{Buffer: bytes.NewBuffer(body)}, nil)
	if _, _, _, err := p.ReadFieldBegin(ctx); err != nil {
		return s, err
	}
	req := rrdb.NewDuplicateRequest()
	if err := req.Read(ctx, p); err != nil {
		return s, err
	}
	for _, e := range req.Entries {
		if e.TaskCode == nil || e.TaskCode.Code != codec.RPCPut || e.RawMessage == nil {
			return s, errBench
		}
		up := athrift.NewTBinaryProtocolConf(&athrift.TMemoryBuffer{Buffer: bytes.NewBuffer(e.RawMessage.Data)}, nil)
		if _, _, _, err := up.ReadFieldBegin(ctx); err != nil {
			return s, err
		}
		u := rrdb.NewUpdateRequest()
		if err := u.Read(ctx, up); err != nil {
			return s, err
		}
		if u.Key == nil {
			return s, errBench
		}
		s.entries++
		s.tsSum += e.GetTimestamp()
		s.hashSum += mutation.KeyHash(u.Key.Data)
		s.rawLen += len(e.RawMessage.Data)
		s.cluster += int(e.GetClusterID())
	}
	return s, nil
}

// Both decoders must agree on the same bytes, so the benchmark compares
// equal work.
func TestDuplicateFrameDecodersAgree(t *testing.T) {
	frame, n := dupFrame()
	var d codec.Decoder
	ours, err := decodeOurs(&d, frame)
	if err != nil {
		t.Fatal(err)
	}
	base, err := decodeBaseline(frame)
	if err != nil {
		t.Fatal(err)
	}
	if ours != base || ours.entries != n || n < 10 || ours.cluster != n {
		t.Fatalf("ours %+v, baseline %+v, %d entries built", ours, base, n)
	}
	if allocs := testing.AllocsPerRun(50, func() { _, _ = decodeOurs(&d, frame) }); allocs != 0 {
		t.Errorf("ours: %v allocs per frame", allocs)
	}
}

// BenchmarkDuplicateFrameDecode: issue 2's performance item. MB/s counts
// the whole frame; entries/s the duplicate entries routed.
func BenchmarkDuplicateFrameDecode(b *testing.B) {
	frame, n := dupFrame()
	b.Run("ours", func(b *testing.B) {
		var d codec.Decoder
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeOurs(&d, frame); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeBaseline(frame); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}
