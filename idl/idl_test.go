package idl_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/dupbridge/dupbridge/idl/base"
	"github.com/dupbridge/dupbridge/idl/gen/meta"
	"github.com/dupbridge/dupbridge/idl/gen/rrdb"
	"github.com/dupbridge/dupbridge/internal/wirevec"
)

func decode(t *testing.T, b []byte, s athrift.TStruct) {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	buf.Write(b)
	p := athrift.NewTBinaryProtocolConf(buf, &athrift.TConfiguration{})
	if err := s.Read(context.Background(), p); err != nil {
		t.Fatalf("decode %T: %v", s, err)
	}
	if buf.Len() != 0 {
		t.Fatalf("decode %T: %d bytes left", s, buf.Len())
	}
}

func encode(t *testing.T, s athrift.TStruct) []byte {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	p := athrift.NewTBinaryProtocolConf(buf, &athrift.TConfiguration{})
	if err := s.Write(context.Background(), p); err != nil {
		t.Fatalf("encode %T: %v", s, err)
	}
	return buf.Bytes()
}

// unwrap strips rDSN's one-field wrapper (wire.md §1.9): 3 header bytes and
// the trailing STOP.
func unwrap(t *testing.T, b []byte) []byte {
	t.Helper()
	if len(b) < 4 || b[0] != 0x0c || b[len(b)-1] != 0 {
		t.Fatalf("not a wrapped struct body: % x", b)
	}
	return b[3 : len(b)-1]
}

func wrap(b []byte) []byte {
	return append(append([]byte{0x0c, 0, 0}, b...), 0)
}

func TestPartitionConfigurationGolden(t *testing.T) {
	in := wirevec.Bytes(wirevec.PartitionConfiguration) // wire.md §3
	var pc meta.PartitionConfiguration
	decode(t, in, &pc)
	want := &meta.PartitionConfiguration{
		Pid:                 &base.Gpid{Appid: 2, PartitionIndex: 5},
		Ballot:              3,
		MaxReplicaCount:     3,
		Primary:             base.NewIPv4Address([4]byte{127, 0, 0, 1}, 34601),
		Secondaries:         []*base.RPCAddress{},
		LastDrops:           []*base.RPCAddress{},
		LastCommittedDecree: 100,
		HpPrimary:           base.NewHostPort("localhost", 34801),
	}
	if !pc.Equals(want) {
		t.Fatalf("decoded %v, want %v", &pc, want)
	}
	if got := pc.Primary.String(); got != "127.0.0.1:34601" {
		t.Errorf("primary = %s", got)
	}
	if pc.IsSetHpSecondaries() || pc.IsSetHpLastDrops() {
		t.Errorf("fields 10/11 set but absent on the wire")
	}
	if out := encode(t, &pc); !bytes.Equal(out, in) {
		t.Fatalf("re-encode differs:\n got % x\nwant % x", out, in)
	}
	// Built from scratch (nil lists) it encodes to the same bytes.
	want.Secondaries, want.LastDrops = nil, nil
	if out := encode(t, want); !bytes.Equal(out, in) {
		t.Fatalf("encode of built value differs:\n got % x\nwant % x", out, in)
	}
}

func TestQueryCfgGolden(t *testing.T) {
	in := wirevec.Bytes(wirevec.QueryConfigRequestBody) // wire.md §1.13
	var req meta.QueryCfgRequest
	decode(t, unwrap(t, in), &req)
	if req.AppName != "temp" || len(req.PartitionIndices) != 0 {
		t.Fatalf("request = %v", &req)
	}
	if out := wrap(encode(t, &req)); !bytes.Equal(out, in) {
		t.Fatalf("request re-encode:\n got % x\nwant % x", out, in)
	}
	built := &meta.QueryCfgRequest{AppName: "temp"}
	if out := wrap(encode(t, built)); !bytes.Equal(out, in) {
		t.Fatalf("request built:\n got % x\nwant % x", out, in)
	}

	// The result struct's field 0 is exactly the RDSN wrapper (wire.md §4).
	in = wirevec.Bytes(wirevec.QueryConfigResponseBody)
	if len(in) != 58 {
		t.Fatalf("body is %d bytes, wire.md says 58", len(in))
	}
	var res meta.MetaQueryCfgResult
	decode(t, in, &res)
	r := res.GetSuccess()
	if r == nil || r.Err.Errno != "ERR_OBJECT_NOT_FOUND" || r.AppID != 0 || r.PartitionCount != 0 ||
		r.IsStateful || len(r.Partitions) != 0 {
		t.Fatalf("response = %v", r)
	}
	if out := encode(t, &res); !bytes.Equal(out, in) {
		t.Fatalf("response re-encode:\n got % x\nwant % x", out, in)
	}
	built2 := &meta.MetaQueryCfgResult{Success: &meta.QueryCfgResponse{Err: &base.ErrorCode{Errno: "ERR_OBJECT_NOT_FOUND"}}}
	if out := encode(t, built2); !bytes.Equal(out, in) {
		t.Fatalf("response built:\n got % x\nwant % x", out, in)
	}
}

func TestDuplicateGolden(t *testing.T) {
	in := wirevec.Bytes(wirevec.DuplicateRequestBody) // wire.md §4.6
	var req rrdb.DuplicateRequest
	decode(t, unwrap(t, in), &req)
	if len(req.Entries) != 1 {
		t.Fatalf("entries = %d", len(req.Entries))
	}
	e := req.Entries[0]
	if e.GetTimestamp() != 1700000000000000 || e.GetTaskCode().Code != "RPC_RRDB_RRDB_PUT" ||
		e.GetClusterID() != 1 || e.IsSetVerifyTimetag() || len(e.GetRawMessage().Data) != 33 {
		t.Fatalf("entry = %v", e)
	}
	var put rrdb.UpdateRequest
	decode(t, unwrap(t, e.RawMessage.Data), &put)
	if string(put.Key.Data) != "\x00\x03hk1s" || string(put.Value.Data) != "v" || put.ExpireTsSeconds != 0 ||
		put.IsSetType() || put.IsSetCheckValue() {
		t.Fatalf("update_request = %v", &put)
	}
	if out := wrap(encode(t, &req)); !bytes.Equal(out, in) {
		t.Fatalf("re-encode:\n got % x\nwant % x", out, in)
	}

	// Built from parts, including the inner update_request.
	raw := wrap(encode(t, &rrdb.UpdateRequest{Key: base.NewBlob([]byte("\x00\x03hk1s")), Value: base.NewBlob([]byte("v"))}))
	ts, cid := int64(1700000000000000), int8(1)
	built := &rrdb.DuplicateRequest{Entries: []*rrdb.DuplicateEntry{{
		Timestamp: &ts, TaskCode: &base.TaskCode{Code: "RPC_RRDB_RRDB_PUT"},
		RawMessage: base.NewBlob(raw), ClusterID: &cid,
	}}}
	if out := wrap(encode(t, built)); !bytes.Equal(out, in) {
		t.Fatalf("built:\n got % x\nwant % x", out, in)
	}

	// The pre-2.4 shape is one duplicate_entry as the whole request.
	old := unwrap(t, wrap(encode(t, built.Entries[0])))
	var oldEntry rrdb.DuplicateEntry
	decode(t, old, &oldEntry)
	if !oldEntry.Equals(built.Entries[0]) || old[0] != 0x0a {
		t.Fatalf("old shape: % x", old)
	}
}

// Special types read by their payload, and nil values written as the C++
// defaults (wire.md §3).
func TestBaseTypes(t *testing.T) {
	tests := []struct {
		name string
		v    athrift.TStruct
		dst  athrift.TStruct // nil: no read-back (nil values)
		wire string
	}{
		{"blob", base.NewBlob([]byte("ab")), &base.Blob{}, "00000002 6162"},
		{"nil blob", (*base.Blob)(nil), nil, "00000000"},
		{"error_code", &base.ErrorCode{Errno: "ERR_BUSY"}, &base.ErrorCode{}, "00000008 4552525f42555359"},
		{"nil error_code", (*base.ErrorCode)(nil), nil, "00000006 4552525f4f4b"},
		{"task_code", &base.TaskCode{Code: "RPC_X"}, &base.TaskCode{}, "00000005 5250435f58"},
		{"gpid", &base.Gpid{Appid: 2, PartitionIndex: 5}, &base.Gpid{}, "00000005 00000002"},
		{"gpid negative pidx", &base.Gpid{Appid: 1, PartitionIndex: -1}, &base.Gpid{}, "ffffffff 00000001"},
		{"rpc_address", base.NewIPv4Address([4]byte{10, 0, 0, 1}, 34601), &base.RPCAddress{}, "0a000001 8729 0001"},
		{"nil rpc_address", (*base.RPCAddress)(nil), nil, "00000000 0000 0000"},
		{"host_port", base.NewHostPort("h", 65535), &base.HostPort{}, "00000001 68 ffff 01"},
		{"nil host_port", (*base.HostPort)(nil), nil, "00000000 0000 00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := wirevec.Bytes(tc.wire)
			if got := encode(t, tc.v); !bytes.Equal(got, want) {
				t.Fatalf("encode = % x, want % x", got, want)
			}
			if tc.dst == nil {
				return
			}
			decode(t, want, tc.dst)
			if got := encode(t, tc.dst); !bytes.Equal(got, want) {
				t.Fatalf("round trip = % x, want % x", got, want)
			}
		})
	}
}

// Addresses and host_ports with a type other than 0 or 1 abort a C++ peer:
// they are rejected on read and on write.
func TestBaseBadValues(t *testing.T) {
	bad := []struct {
		name string
		dst  athrift.TStruct
		wire string
	}{
		{"rpc_address type 2", &base.RPCAddress{}, "0a000001 8729 0002"},
		{"rpc_address type 3", &base.RPCAddress{}, "0a000001 8729 0003"},
		{"host_port type 2", &base.HostPort{}, "00000001 68 ffff 02"},
		{"host_port type -1", &base.HostPort{}, "00000001 68 ffff ff"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			buf := athrift.NewTMemoryBuffer()
			buf.Write(wirevec.Bytes(tc.wire))
			err := tc.dst.Read(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil))
			if !errors.Is(err, base.ErrBadValue) {
				t.Fatalf("read err = %v, want ErrBadValue", err)
			}
		})
	}
	for _, v := range []athrift.TStruct{&base.RPCAddress{Address: 2}, &base.HostPort{Type: 5}} {
		buf := athrift.NewTMemoryBuffer()
		if err := v.Write(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); !errors.Is(err, base.ErrBadValue) {
			t.Errorf("write %T err = %v, want ErrBadValue", v, err)
		}
		if buf.Len() != 0 {
			t.Errorf("write %T wrote %d bytes before failing", v, buf.Len())
		}
	}
	// Truncated payloads fail (no panic).
	for _, d := range []athrift.TStruct{&base.Blob{}, &base.Gpid{}, &base.HostPort{}} {
		buf := athrift.NewTMemoryBuffer()
		buf.Write([]byte{0, 0, 0, 9, 1})
		if err := d.Read(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err == nil {
			t.Errorf("%T: truncated read succeeded", d)
		}
	}
}
