package base_test

import (
	"bytes"
	"context"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/dupbridge/dupbridge/idl/base"
)

func newByIndex(i byte) athrift.TStruct {
	switch i % 6 {
	case 0:
		return &base.Blob{}
	case 1:
		return &base.ErrorCode{}
	case 2:
		return &base.TaskCode{}
	case 3:
		return &base.Gpid{}
	case 4:
		return &base.RPCAddress{}
	}
	return &base.HostPort{}
}

// FuzzBaseTypes: data[0] picks a special type, data[1:] is its payload
// (wire.md §3). Read must not panic; a value read must write back to
// exactly the bytes it consumed. (Errors are not classified: apache/thrift
// returns plain io errors for short input.)
// Seeds: testdata/fuzz/FuzzBaseTypes.
func FuzzBaseTypes(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		v := newByIndex(data[0])
		in := data[1:]
		buf := athrift.NewTMemoryBuffer()
		buf.Write(in)
		ctx := context.Background()
		if err := v.Read(ctx, athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
			return
		}
		n := len(in) - buf.Len()
		out := athrift.NewTMemoryBuffer()
		if err := v.Write(ctx, athrift.NewTBinaryProtocolConf(out, nil)); err != nil {
			t.Fatalf("%T: write back: %v", v, err)
		}
		if !bytes.Equal(out.Bytes(), in[:n]) {
			t.Fatalf("%T: wrote % x, read % x", v, out.Bytes(), in[:n])
		}
	})
}

func TestAccessors(t *testing.T) {
	a := base.NewIPv4Address([4]byte{192, 168, 1, 2}, 8080)
	if a.IP() != [4]byte{192, 168, 1, 2} || a.Port() != 8080 || a.Type() != base.AddrTypeIPv4 || a.String() != "192.168.1.2:8080" {
		t.Fatalf("address accessors: %v %v %v %q", a.IP(), a.Port(), a.Type(), a.String())
	}
	var nilAddr *base.RPCAddress
	if nilAddr.Port() != 0 || nilAddr.Type() != 0 || nilAddr.String() != "<nil>" {
		t.Fatalf("nil address accessors")
	}
	if (&base.RPCAddress{}).String() != "invalid address" {
		t.Fatalf("zero address string")
	}
	g := &base.Gpid{Appid: 1, PartitionIndex: 2}
	if g.Int64() != 2<<32|1 || g.String() != "1.2" {
		t.Fatalf("gpid: %x %s", g.Int64(), g)
	}
	hp := base.NewHostPort("h", 1)
	if hp.String() != "h:1" || (&base.HostPort{}).String() != "invalid host_port" {
		t.Fatalf("host_port strings")
	}
	if !hp.Equals(base.NewHostPort("h", 1)) || hp.Equals(nil) || !(*base.HostPort)(nil).Equals(nil) {
		t.Fatalf("host_port Equals")
	}
	if !base.NewBlob(nil).Equals(base.NewBlob([]byte{})) || base.NewBlob(nil).Equals(nil) {
		t.Fatalf("blob Equals")
	}
}
