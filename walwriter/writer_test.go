package walwriter_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
	"github.com/dupbridge/dupbridge/walwriter"
)

func readDir(t *testing.T, dir string) []*walreader.Mutation {
	t.Helper()
	r, err := walreader.Open([]string{dir}, walreader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []*walreader.Mutation
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Clone())
	}
	if len(r.Warnings()) != 0 {
		t.Fatalf("warnings %v", r.Warnings())
	}
	return out
}

// TestWriterRoundTrip: what the writer writes, the reader reads back equal,
// across blocks and files.
func TestWriterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w, err := walwriter.Create(dir, walwriter.Options{AppID: 7, PartitionIndex: 2, RotateBytes: 4000, BlockBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var want []walreader.Mutation
	d := int64(0)
	for b := 0; b < 40; b++ {
		var batch []walreader.Mutation
		for i := 0; i <= b%5; i++ {
			d++
			key := mutation.AppendRawKey(nil, []byte("hk"), []byte{byte(d)})
			m := walreader.Mutation{AppID: 7, PartitionIndex: 2, Ballot: 1 + d/50, Decree: d, LastCommittedDecree: d - 1, Timestamp: 1_600_000_000_000_000 + d,
				Updates: []walreader.Update{walwriter.ThriftUpdate(mutation.CodePut, mutation.AppendPut(nil, 1, key, bytes.Repeat([]byte{'v'}, int(d%300)), int32(d)))}}
			if d%9 == 0 {
				m.Updates = append(m.Updates, walwriter.ThriftUpdate(mutation.CodeRemove, mutation.AppendRemove(nil, 1, key)))
			}
			batch = append(batch, m)
		}
		if err := w.WriteBatch(batch); err != nil {
			t.Fatal(err)
		}
		want = append(want, batch...)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(w.Files()) < 3 {
		t.Fatalf("files %v: want rotation", w.Files())
	}
	got := readDir(t, dir)
	if len(got) != len(want) {
		t.Fatalf("%d mutations, want %d", len(got), len(want))
	}
	for i, m := range got {
		x := want[i]
		if m.Decree != x.Decree || m.Ballot != x.Ballot || m.LastCommittedDecree != x.LastCommittedDecree || m.Timestamp != x.Timestamp ||
			m.AppID != 7 || m.PartitionIndex != 2 || len(m.Updates) != len(x.Updates) || m.Size != walwriter.MutationSize(&x) {
			t.Fatalf("mutation %d: %+v, want %+v", i, m, x)
		}
		for j, u := range m.Updates {
			if u.Code != x.Updates[j].Code || string(u.Name) != u.Code.Name() || !bytes.Equal(u.Data, x.Updates[j].Data) || u.SerializationType != 1 {
				t.Fatalf("mutation %d update %d differs", i, j)
			}
		}
	}
	// Each later file's header records the largest decree before it
	// (storage.md §1.4), and blocks never exceed the threshold by more than
	// one mutation (§1.5).
	files, err := walreader.ListDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		checkBlockSizes(t, f, 1000)
	}
	for _, f := range files[1:] {
		r, err := walreader.Open([]string{f.Path}, walreader.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if md := r.Header().Replicas[0].MaxDecree; md != m.Decree-1 {
			t.Errorf("%s: max_decree %d, first decree %d", f.Path, md, m.Decree)
		}
		r.Close()
	}
}

// checkBlockSizes: every mutation block of f, header included, is at most
// blockBytes before its last mutation (a new block starts before a mutation
// once the current one is larger, §1.5).
func checkBlockSizes(t *testing.T, f walreader.FileInfo, blockBytes int) {
	t.Helper()
	data, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	it := walreader.NewBlockIterator(bytes.NewReader(data), int64(len(data)), f.Path, 0)
	for i := 0; ; i++ {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			continue // the file header
		}
		var mi walreader.MutationIterator
		var m walreader.Mutation
		mi.Reset(b.Body, f.StartOffset+b.Offset+walreader.BlockHeaderSize, b.Offset+walreader.BlockHeaderSize, b.Offset, f.Path)
		last := 0
		for {
			ok, err := mi.Next(&m)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			last = m.Size
		}
		if before := walreader.BlockHeaderSize + len(b.Body) - last; last == 0 || before > blockBytes {
			t.Errorf("%s: block at %d is %d bytes before its last mutation (of %d), threshold %d", f.Path, b.Offset, before, last, blockBytes)
		}
	}
}

// TestBlockSplit checks the §1.5 rule: a new block starts before a mutation
// once the current block (header included) is larger than the threshold.
func TestBlockSplit(t *testing.T) {
	dir := t.TempDir()
	w, err := walwriter.Create(dir, walwriter.Options{AppID: 1, BlockBytes: 300, FileName: "log.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	var batch []walreader.Mutation
	for d := int64(1); d <= 7; d++ { // 7 empty writes of 99 bytes
		batch = append(batch, walreader.Mutation{AppID: 1, Ballot: 1, Decree: d, LastCommittedDecree: d - 1, Updates: []walreader.Update{walwriter.EmptyWrite()}})
	}
	if err := w.WriteBatch(batch); err != nil {
		t.Fatal(err)
	}
	w.Close()
	data, _ := os.ReadFile(filepath.Join(dir, "log.1.0"))
	it := walreader.NewBlockIterator(bytes.NewReader(data), int64(len(data)), "x", 0)
	var lens []int32
	for {
		b, err := it.Next()
		if err != nil {
			break
		}
		lens = append(lens, b.Header.Length)
	}
	// 16+99*3 = 313 > 300 after three: blocks of 3, 3, 1 after the header.
	if len(lens) != 4 || lens[0] != 44 || lens[1] != 297 || lens[2] != 297 || lens[3] != 99 {
		t.Errorf("block lengths %v, want [44 297 297 99]", lens)
	}
}

func TestGenerate(t *testing.T) {
	mix, err := walwriter.ParseMix("put=40,remove=10,batch=10,multi_put=10,multi_remove=10,empty=5,incr=5,cas=5,cam=5")
	if err != nil {
		t.Fatal(err)
	}
	opts := walwriter.GenOptions{Partitions: 3, AppID: 5, Mutations: 2000, Seed: 42, ValueMin: 0, ValueMax: 400, Mix: mix,
		TTLFraction: 0.3, RotateBytes: 20000, FinalEmpty: true, HashKeys: 50, SortKeys: 8}
	opts.Dir = t.TempDir()
	res, err := walwriter.Generate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mutations != 2000+3 {
		t.Errorf("%d mutations, want 2003", res.Mutations)
	}
	kinds := 0
	for _, n := range res.Kinds {
		kinds += n
	}
	if kinds != 2000 || len(res.Kinds) != 9 {
		t.Errorf("kinds %v", res.Kinds)
	}
	var ttls int
	for _, p := range res.Partitions {
		if p.Dir != walwriter.PlogDir(opts.Dir, 5, int(p.Index)) || len(p.Files) < 2 {
			t.Errorf("partition %d: dir %s files %d", p.Index, p.Dir, len(p.Files))
		}
		ms := readDir(t, p.Dir)
		if len(ms) != p.Mutations || int64(len(ms)) != p.LastDecree {
			t.Fatalf("partition %d: read %d, result says %d", p.Index, len(ms), p.Mutations)
		}
		for i, m := range ms {
			if m.Decree != int64(i+1) || m.LastCommittedDecree != m.Decree-1 || m.AppID != 5 || m.PartitionIndex != p.Index ||
				(i > 0 && m.Timestamp <= ms[i-1].Timestamp) {
				t.Fatalf("partition %d mutation %d: %+v", p.Index, i, m)
			}
			if len(m.Updates) > 1 {
				for _, u := range m.Updates {
					if u.Code != mutation.CodePut && u.Code != mutation.CodeRemove {
						t.Fatalf("batched %s", u.Code)
					}
				}
			}
			for _, u := range m.Updates {
				if u.Code == mutation.CodeWriteEmpty {
					continue
				}
				d, err := mutation.Decode(u.Code, u.Data)
				if err != nil {
					t.Fatalf("decree %d: %v", m.Decree, err)
				}
				// Every write lands in the partition its key hash names (storage.md §3.4).
				h, err := mutation.PayloadHash(u.Code, u.Data)
				if err != nil || mutation.PartitionIndex(h, 3) != int(p.Index) {
					t.Fatalf("decree %d: %s routed to partition %d, hash %x %v", m.Decree, u.Code, p.Index, h, err)
				}
				if d.Put != nil && d.Put.ExpireTsSeconds != 0 {
					ttls++
				}
			}
		}
		if !ms[len(ms)-1].IsEmptyWrite() {
			t.Errorf("partition %d does not end with an empty write", p.Index)
		}
	}
	if ttls == 0 {
		t.Errorf("no TTLs with TTLFraction 0.3")
	}

	// Deterministic by seed.
	opts2 := opts
	opts2.Dir = t.TempDir()
	if _, err := walwriter.Generate(context.Background(), opts2); err != nil {
		t.Fatal(err)
	}
	opts3 := opts
	opts3.Dir, opts3.Seed = t.TempDir(), 43
	if _, err := walwriter.Generate(context.Background(), opts3); err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Partitions {
		for _, f := range p.Files {
			rel, _ := filepath.Rel(opts.Dir, f)
			a, _ := os.ReadFile(f)
			b, _ := os.ReadFile(filepath.Join(opts2.Dir, rel))
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs between two runs with the same seed", rel)
			}
		}
	}
	a, _ := os.ReadFile(res.Partitions[0].Files[0])
	c, _ := os.ReadFile(filepath.Join(opts3.Dir, "5.0.pegasus", "plog", "log.1.0"))
	if bytes.Equal(a, c) {
		t.Errorf("seeds 42 and 43 gave the same file")
	}
}

func TestGenerateTargetBytes(t *testing.T) {
	dir := t.TempDir()
	res, err := walwriter.Generate(context.Background(), walwriter.GenOptions{Dir: dir, TargetBytes: 200_000, ValueMin: 100, ValueMax: 200})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(res.Partitions[0].Files[0])
	if res.Bytes < 200_000 || res.Bytes > 210_000 || st.Size() != res.Bytes {
		t.Errorf("bytes %d, file %d", res.Bytes, st.Size())
	}
}

func TestParseMix(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"put=1", true}, {"put=70, remove=10,empty=0", true}, {"check_and_set=1,check_and_mutate=2,write_empty=1,batched=1", true}, {"put", false}, {"bogus=1", false}, {"put=-1", false}, {"put=0", false}, {"", false},
	} {
		_, err := walwriter.ParseMix(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseMix(%q): %v", c.in, err)
		}
	}
}

func TestFixtureNames(t *testing.T) {
	if _, err := walwriter.WriteFixture(t.TempDir(), "nope"); err == nil {
		t.Error("unknown fixture accepted")
	}
	for _, f := range walwriter.Fixtures() {
		var sum int64 = 60
		for _, m := range f.Mutations() {
			sum += int64(m.Size)
		}
		sum += int64(16 * len(f.Batches))
		if sum != f.Size {
			t.Errorf("%s: facts inconsistent: %d vs %d", f.Name, sum, f.Size)
		}
	}
}
