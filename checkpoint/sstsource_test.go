package checkpoint

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dupbridge/dupbridge/internal/sstgen"
	"github.com/dupbridge/dupbridge/mutation"
)

// OpenSST yields a real checkpoint's live keys of one partition with their
// value fields, and after a key it resumes past it.
func TestOpenSST(t *testing.T) {
	var ops []sstgen.Op
	want := map[string]Record{}
	for i := 0; i < 400; i++ {
		k := mutation.AppendRawKey(nil, fmt.Appendf(nil, "h%03d", i), []byte("s"))
		r := Record{Key: k, Value: fmt.Appendf(nil, "v%d", i), ExpireTs: [3]uint32{0, 1_500_000_000, 100}[i%3], Timetag: mutation.Timetag(uint64(1e15+i), 1, false)}
		v, _ := mutation.AppendValue(nil, mutation.ValueV1, r.ExpireTs, r.Timetag, r.Value)
		ops = append(ops, sstgen.Op{Key: k, Value: v})
		if mutation.PartitionIndex(mutation.KeyHash(k), 4) == 2 && r.ExpireTs != 100 { // 100 s after 2016: expired
			want[string(k)] = r
		}
	}
	cp, err := sstgen.Build(t, t.TempDir()+"/w", sstgen.Options{Compression: "zstd", Checksum: "xxh3", FormatVersion: 5}, 1, [][]sstgen.Op{ops})
	if err != nil {
		t.Fatal(err)
	}
	read := func(after []byte) []Record {
		src, err := OpenSST(cp, 2, 4, after)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var out []Record
		var r Record
		for src.Next(&r) {
			out = append(out, Record{Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value), ExpireTs: r.ExpireTs, Timetag: r.Timetag})
		}
		if err := src.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := read(nil)
	if len(all) != len(want) {
		t.Fatalf("%d live keys of partition 2, want %d", len(all), len(want))
	}
	for _, r := range all {
		if mutation.PartitionIndex(mutation.KeyHash(r.Key), 4) != 2 {
			t.Fatalf("key %q of another partition", r.Key)
		}
		w, ok := want[string(r.Key)]
		if !ok || (!bytes.Equal(w.Value, r.Value) || w.Timetag != r.Timetag || w.ExpireTs != r.ExpireTs) {
			t.Fatalf("key %q: %+v, want %+v", r.Key, r, w)
		}
	}
	rest := read(all[len(all)/2].Key)
	if len(rest) != len(all)-len(all)/2-1 || !bytes.Equal(rest[0].Key, all[len(all)/2+1].Key) {
		t.Fatalf("resume after key %d of %d yields %d keys", len(all)/2, len(all), len(rest))
	}
	if _, err := OpenSST(t.TempDir()+"/none", 0, 1, nil); err == nil {
		t.Fatal("missing directory opened")
	}
}
