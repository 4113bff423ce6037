package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/idl/base"
	"github.com/dupbridge/dupbridge/idl/gen/checkpoint"
	"github.com/dupbridge/dupbridge/thrift"
)

// fuzzSeeds are well-formed answers of the three checkpoint RPCs, written
// by the generated code: kind 0 learn_response, 1 get_file_size_response,
// 2 copy_response.
func fuzzSeeds(t testing.TB) (kinds []uint8, bodies [][]byte) {
	addr := base.NewIPv4Address([4]byte{127, 0, 0, 1}, 34801)
	seeds := []struct {
		kind uint8
		v    writable
	}{
		{0, &checkpoint.LearnResponse{Err: &base.ErrorCode{Errno: codec.ErrorOK},
			Config: &checkpoint.ReplicaConfiguration{Pid: &base.Gpid{Appid: 1}, Primary: addr, HpPrimary: base.NewHostPort("h", 1)},
			State: &checkpoint.LearnState{ToDecreeIncluded: 9, Meta: base.NewBlob(nil), Files: []string{"1.sst", "CURRENT"},
				FileSizes: []int64{5, 16}, FileChecksums: []string{"ab", "cd"}},
			Learnee: addr, BaseLocalDir: "/d/checkpoint.9", HpLearnee: base.NewHostPort("h", 34801)}},
		{1, &checkpoint.GetFileSizeResponse{Error: 0, FileList: []string{"1.sst"}, SizeList: []int64{5}}},
		{2, &checkpoint.CopyResponse{Error: &base.ErrorCode{Errno: codec.ErrorOK}, FileContent: base.NewBlob([]byte("hello")), Offset: 0, Size: 5}},
	}
	for _, s := range seeds {
		kinds = append(kinds, s.kind)
		bodies = append(bodies, generated(t, s.v))
	}
	return kinds, bodies
}

// FuzzDecodeAnswers feeds arbitrary bytes to the decoders of a master's
// checkpoint answers: they must return an error or a value, never panic.
func FuzzDecodeAnswers(f *testing.F) {
	kinds, bodies := fuzzSeeds(f)
	for i := range kinds {
		f.Add(kinds[i], bodies[i])
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		r := thrift.NewReader(b)
		switch kind % 3 {
		case 0:
			if lc, _, err := decodeLearnResponse(&r); err == nil && lc == nil {
				t.Fatal("nil answer without error")
			}
		case 1:
			_, _, _, _ = decodeFileSizes(&r)
		case 2:
			if cr, err := decodeCopyResponse(&r); err == nil && len(cr.data) > len(b) {
				t.Fatal("content longer than the input")
			}
		}
	})
}

// TestWriteFuzzCorpus rewrites testdata/fuzz/FuzzDecodeAnswers when
// CHECKPOINT_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("CHECKPOINT_WRITE_CORPUS") != "1" {
		t.Skip("set CHECKPOINT_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeAnswers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	kinds, bodies := fuzzSeeds(t)
	for i := range kinds {
		body := fmt.Sprintf("go test fuzz v1\nbyte(%q)\n[]byte(%q)\n", kinds[i], bodies[i])
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
