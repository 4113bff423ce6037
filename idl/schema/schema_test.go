package schema_test

import (
	"errors"
	"testing"

	"github.com/dupbridge/dupbridge/idl/gen/checkpoint"
	"github.com/dupbridge/dupbridge/idl/gen/meta"
	"github.com/dupbridge/dupbridge/idl/gen/rrdb"
	"github.com/dupbridge/dupbridge/idl/schema"
	"github.com/dupbridge/dupbridge/thrift"
)

type fieldWant struct {
	id       int16
	name     string
	kind     thrift.Kind
	elem     thrift.Kind // list element / map value, 0 if none
	optional bool
}

// The expected shapes are the field tables of wire.md §4.1, §4.4.1, §4.6,
// §4.3, §4.2 and §4.7.
func TestDerivedSchemas(t *testing.T) {
	tests := []struct {
		v    any
		want []fieldWant
	}{
		{&meta.PartitionConfiguration{}, []fieldWant{
			{1, "pid", thrift.KindGpid, 0, false},
			{2, "ballot", thrift.KindI64, 0, false},
			{3, "max_replica_count", thrift.KindI32, 0, false},
			{4, "primary", thrift.KindRPCAddress, 0, false},
			{5, "secondaries", thrift.KindList, thrift.KindRPCAddress, false},
			{6, "last_drops", thrift.KindList, thrift.KindRPCAddress, false},
			{7, "last_committed_decree", thrift.KindI64, 0, false},
			{8, "partition_flags", thrift.KindI32, 0, false},
			{9, "hp_primary", thrift.KindHostPort, 0, true},
			{10, "hp_secondaries", thrift.KindList, thrift.KindHostPort, true},
			{11, "hp_last_drops", thrift.KindList, thrift.KindHostPort, true},
		}},
		{&rrdb.UpdateRequest{}, []fieldWant{
			{1, "key", thrift.KindBlob, 0, false},
			{2, "value", thrift.KindBlob, 0, false},
			{3, "expire_ts_seconds", thrift.KindI32, 0, false},
			{4, "type", thrift.KindI32, 0, true}, // enum
			{5, "check_value_returned", thrift.KindBool, 0, true},
			{6, "check_value_exist", thrift.KindBool, 0, true},
			{7, "check_value", thrift.KindBlob, 0, true},
		}},
		{&rrdb.DuplicateEntry{}, []fieldWant{
			{1, "timestamp", thrift.KindI64, 0, true},
			{2, "task_code", thrift.KindTaskCode, 0, true},
			{3, "raw_message", thrift.KindBlob, 0, true},
			{4, "cluster_id", thrift.KindI8, 0, true},
			{5, "verify_timetag", thrift.KindBool, 0, true},
		}},
		{&rrdb.MultiRemoveRequest{}, []fieldWant{
			{1, "hash_key", thrift.KindBlob, 0, false},
			{2, "sort_keys", thrift.KindList, thrift.KindBlob, false},
			{3, "max_count", thrift.KindI64, 0, false},
		}},
		{&meta.QueryCfgResponse{}, []fieldWant{
			{1, "err", thrift.KindErrorCode, 0, false},
			{2, "app_id", thrift.KindI32, 0, false},
			{3, "partition_count", thrift.KindI32, 0, false},
			{4, "is_stateful", thrift.KindBool, 0, false},
			{5, "partitions", thrift.KindList, thrift.KindStruct, false},
		}},
		{&meta.CreateAppOptions{}, []fieldWant{
			{1, "partition_count", thrift.KindI32, 0, false},
			{2, "replica_count", thrift.KindI32, 0, false},
			{3, "success_if_exist", thrift.KindBool, 0, false},
			{4, "app_type", thrift.KindBinary, 0, false},
			{5, "is_stateful", thrift.KindBool, 0, false},
			{6, "envs", thrift.KindMap, thrift.KindBinary, false},
			{7, "atomic_idempotent", thrift.KindBool, 0, true},
		}},
		{&checkpoint.GetFileSizeResponse{}, []fieldWant{
			{1, "error", thrift.KindI32, 0, false},
			{2, "file_list", thrift.KindList, thrift.KindBinary, false},
			{3, "size_list", thrift.KindList, thrift.KindI64, false},
		}},
	}
	for _, tc := range tests {
		st, err := schema.Of(tc.v)
		if err != nil {
			t.Fatalf("%T: %v", tc.v, err)
		}
		if len(st.Fields) != len(tc.want) {
			t.Fatalf("%s: %d fields, want %d", st.Name, len(st.Fields), len(tc.want))
		}
		for i, w := range tc.want {
			f := st.Fields[i]
			var elem thrift.Kind
			if f.Type.Elem != nil {
				elem = f.Type.Elem.Kind
			}
			if f.ID != w.id || f.Name != w.name || f.Type.Kind != w.kind || elem != w.elem || f.Optional != w.optional {
				t.Errorf("%s field %d = {%d %s %v %v opt=%v}, want %+v", st.Name, i, f.ID, f.Name, f.Type.Kind, elem, f.Optional, w)
			}
		}
	}
}

func TestNestedStructSchema(t *testing.T) {
	st, err := schema.Of(&meta.MetaQueryCfgResult{})
	if err != nil {
		t.Fatal(err)
	}
	success := st.Field(0)
	if success == nil || success.Type.Kind != thrift.KindStruct || !success.Optional {
		t.Fatalf("result field 0 = %+v", success)
	}
	pc := success.Type.Struct.Field(5).Type.Elem.Struct
	if pc.Name != "PartitionConfiguration" || pc.Field(9).Type.Kind != thrift.KindHostPort {
		t.Fatalf("nested partition_configuration schema = %+v", pc)
	}
}

func TestUnsupported(t *testing.T) {
	for _, v := range []any{nil, 3, &struct {
		X chan int `thrift:"x,1"`
	}{}} {
		if _, err := schema.Of(v); !errors.Is(err, schema.ErrUnsupported) {
			t.Errorf("Of(%T) err = %v, want ErrUnsupported", v, err)
		}
	}
}
