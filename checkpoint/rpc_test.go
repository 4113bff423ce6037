package checkpoint

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/idl/base"
	"github.com/dupbridge/dupbridge/idl/gen/checkpoint"
	"github.com/dupbridge/dupbridge/thrift"
)

// The hand-written encoders and decoders are checked against the code the
// thrift compiler generates from idl/checkpoint.thrift, whose field ids and
// types come from src/nfs/nfs.thrift and src/common/consensus.thrift
// (wire.md §4.7): the requests must be byte-identical, and the responses
// the generated code writes must decode to the same values.

type writable interface {
	Write(context.Context, athrift.TProtocol) error
}

func generated(t testing.TB, v writable) []byte {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	if err := v.Write(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ours(f func(w *thrift.Writer)) []byte {
	var w thrift.Writer
	f(&w)
	return w.B
}

func TestRequestsMatchGeneratedCode(t *testing.T) {
	md5 := checkpoint.ChecksumType_CST_MD5
	none := checkpoint.ChecksumType_CST_NONE
	learn := func(ct *checkpoint.ChecksumType) *checkpoint.LearnRequest {
		return &checkpoint.LearnRequest{Pid: &base.Gpid{Appid: 3, PartitionIndex: 7}, Learner: &base.RPCAddress{},
			AppSpecificLearnRequest: base.NewBlob(nil), ChecksumType: ct}
	}
	cases := []struct {
		name string
		gen  writable
		ours []byte
	}{
		{"learn_request md5", learn(&md5), ours(func(w *thrift.Writer) { appendLearnRequest(w, 3, 7, true) })},
		{"learn_request none", learn(&none), ours(func(w *thrift.Writer) { appendLearnRequest(w, 3, 7, false) })},
		{"get_file_size_request", &checkpoint.GetFileSizeRequest{Source: &base.RPCAddress{}, FileList: []string{"CURRENT", "000009.sst"},
			SourceDir: "/data/replica/reps/3.7.pegasus/data/checkpoint.42", Overwrite: true},
			ours(func(w *thrift.Writer) {
				appendGetFileSizeRequest(w, "/data/replica/reps/3.7.pegasus/data/checkpoint.42", []string{"CURRENT", "000009.sst"})
			})},
		{"copy_request", &checkpoint.CopyRequest{Source: &base.RPCAddress{}, SourceDir: "/d", FileName: "000009.sst",
			Offset: 4 << 20, Size: 4 << 20, IsLast: true, Overwrite: true},
			ours(func(w *thrift.Writer) { appendCopyRequest(w, "/d", "000009.sst", 4<<20, 4<<20, true) })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if g := generated(t, tc.gen); !bytes.Equal(g, tc.ours) {
				t.Fatalf("ours % x\ngenerated % x", tc.ours, g)
			}
		})
	}
}

func TestLearnResponseFromGeneratedCode(t *testing.T) {
	addr := base.NewIPv4Address([4]byte{10, 1, 2, 3}, 34801)
	hp := base.NewHostPort("replica-1.example", 34801)
	cases := []struct {
		name    string
		resp    *checkpoint.LearnResponse
		want    LastCheckpoint
		wantErr string
	}{
		{"2.6 with md5", &checkpoint.LearnResponse{
			Err:    &base.ErrorCode{Errno: codec.ErrorOK},
			Config: &checkpoint.ReplicaConfiguration{Pid: &base.Gpid{Appid: 3, PartitionIndex: 1}, Primary: addr, HpPrimary: hp},
			State: &checkpoint.LearnState{ToDecreeIncluded: 99, Meta: base.NewBlob([]byte("m")), Files: []string{"a.sst", "CURRENT"},
				FileSizes: []int64{10, 16}, FileChecksums: []string{"00", "11"}},
			Learnee: addr, BaseLocalDir: "/data/checkpoint.99", HpLearnee: hp,
		}, LastCheckpoint{Decree: 99, Dir: "/data/checkpoint.99", Learnee: "10.1.2.3:34801", Files: []string{"a.sst", "CURRENT"},
			Sizes: []int64{10, 16}, MD5s: []string{"00", "11"}}, codec.ErrorOK},
		{"2.5 without host_port", &checkpoint.LearnResponse{
			Err: &base.ErrorCode{Errno: codec.ErrorOK}, Config: &checkpoint.ReplicaConfiguration{Pid: &base.Gpid{}, Primary: &base.RPCAddress{}},
			State:   &checkpoint.LearnState{ToDecreeIncluded: 5, Meta: base.NewBlob(nil), Files: []string{"x"}},
			Learnee: addr, BaseLocalDir: "/c.5",
		}, LastCheckpoint{Decree: 5, Dir: "/c.5", Learnee: "10.1.2.3:34801", Files: []string{"x"}}, codec.ErrorOK},
		{"no checkpoint", &checkpoint.LearnResponse{
			Err: &base.ErrorCode{Errno: codec.ErrorPathNotFound}, Config: &checkpoint.ReplicaConfiguration{Pid: &base.Gpid{}, Primary: &base.RPCAddress{}},
			State: &checkpoint.LearnState{Meta: base.NewBlob(nil)}, Learnee: &base.RPCAddress{},
		}, LastCheckpoint{}, codec.ErrorPathNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := thrift.NewReader(generated(t, tc.resp))
			lc, errName, err := decodeLearnResponse(&r)
			if err != nil {
				t.Fatal(err)
			}
			if errName != tc.wantErr || !reflect.DeepEqual(*lc, tc.want) {
				t.Fatalf("got %s %+v, want %s %+v", errName, *lc, tc.wantErr, tc.want)
			}
		})
	}
}
