package thrift_test

import (
	"context"
	"fmt"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/dupbridge/dupbridge/idl/base"
	"github.com/dupbridge/dupbridge/idl/gen/meta"
	"github.com/dupbridge/dupbridge/idl/schema"
	"github.com/dupbridge/dupbridge/thrift"
)

// A hand-written decoder reads the fields it needs and lets SkipField
// handle the rest, including special-typed fields such as hp_primary
// (wire.md §3) that a generic Skip would mis-skip.
func ExampleReader_SkipField() {
	pcSchema, err := schema.Of(&meta.PartitionConfiguration{}) // once, outside hot loops
	if err != nil {
		panic(err)
	}
	buf := athrift.NewTMemoryBuffer()
	pc := &meta.PartitionConfiguration{
		Pid:       &base.Gpid{Appid: 2, PartitionIndex: 5},
		Ballot:    3,
		Primary:   base.NewIPv4Address([4]byte{127, 0, 0, 1}, 34601),
		HpPrimary: base.NewHostPort("localhost", 34801),
	}
	if err := pc.Write(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		panic(err)
	}
	body := buf.Bytes()

	r := thrift.NewReader(body)
	var ballot int64
	for {
		typ, id, err := r.ReadFieldHeader()
		if err != nil || typ == thrift.STOP {
			break
		}
		if id == 2 && typ == thrift.I64 {
			ballot, _ = r.ReadI64()
			continue
		}
		if err := r.SkipField(pcSchema, typ, id); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(ballot, r.Remaining())

	r = thrift.NewReader(body)
	v, _ := r.ReadValue(thrift.SchemaOf(pcSchema))
	fmt.Println(string(v.AppendText(nil, thrift.SchemaOf(pcSchema))))
	// Output:
	// 3 0
	// {pid=2.5, ballot=3, max_replica_count=0, primary=127.0.0.1:34601, secondaries=[], last_drops=[], last_committed_decree=0, partition_flags=0, hp_primary=localhost:34801}
}
