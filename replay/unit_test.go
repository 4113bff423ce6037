package replay

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walwriter"
)

func newTestRunner(batchBytes, maxWrite int) *runner {
	r := &runner{o: Options{BatchBytes: batchBytes, MaxWriteSize: maxWrite, ClusterID: 1}}
	for c := range r.names {
		r.names[c] = []byte(mutation.Code(c).Name())
	}
	r.ship = &shipper{}
	return r
}

type testUpdate struct {
	ts   int64
	code mutation.Code
	data []byte
}

func put(hk, sk string, valueLen int) []byte {
	return mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte(hk), []byte(sk)), bytes.Repeat([]byte("v"), valueLen), 0)
}

// Batches are cut as pegasus_mutation_duplicator::duplicate cuts them
// (duplication.md §3.5): timestamp order, the size check after appending,
// each batch keyed by its last entry's hash.
func TestBuildBatches(t *testing.T) {
	p40 := func(k string) []byte { return put(k, "s", 40-29-len(k)) } // 40 payload bytes
	cases := []struct {
		name       string
		batchBytes int
		maxWrite   int
		ups        []testUpdate
		wantSizes  [][]int // per batch, the payload sizes of its entries
		wantOrder  []int64 // timestamps in shipping order
	}{
		{
			name: "close after the entry reaching the threshold", batchBytes: 100, maxWrite: 1 << 20,
			ups: []testUpdate{
				{1, mutation.CodePut, p40("a")}, {2, mutation.CodePut, p40("b")}, {3, mutation.CodePut, p40("c")},
				{4, mutation.CodePut, p40("d")}, {5, mutation.CodeRemove, mutation.AppendRemove(nil, 0, mutation.AppendRawKey(nil, []byte("e"), nil))},
			},
			wantSizes: [][]int{{40, 40, 40}, {40, 11}},
			wantOrder: []int64{1, 2, 3, 4, 5},
		},
		{
			name: "timestamp order, ties in load order", batchBytes: 4096, maxWrite: 1 << 20,
			ups: []testUpdate{
				{5, mutation.CodePut, p40("a")}, {3, mutation.CodePut, p40("b")}, {3, mutation.CodePut, p40("c")}, {1, mutation.CodePut, p40("d")},
			},
			wantSizes: [][]int{{40, 40, 40, 40}},
			wantOrder: []int64{1, 3, 3, 5},
		},
		{
			name: "dup_max_allowed_write_size below the batch bytes", batchBytes: 4096, maxWrite: 80,
			ups: []testUpdate{
				{1, mutation.CodePut, p40("a")}, {2, mutation.CodePut, p40("b")}, {3, mutation.CodePut, p40("c")},
			},
			wantSizes: [][]int{{40, 40}, {40}},
			wantOrder: []int64{1, 2, 3},
		},
		{
			name: "one entry larger than the threshold", batchBytes: 30, maxWrite: 1 << 20,
			ups:       []testUpdate{{1, mutation.CodePut, p40("a")}, {2, mutation.CodePut, p40("b")}},
			wantSizes: [][]int{{40}, {40}},
			wantOrder: []int64{1, 2},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, u := range tc.ups {
				if u.code == mutation.CodePut && len(u.data) != 40 {
					t.Fatalf("test payload is %d bytes, want 40", len(u.data))
				}
			}
			p := &partRunner{run: newTestRunner(tc.batchBytes, tc.maxWrite), path: "test"}
			for _, u := range tc.ups {
				off := len(p.arena)
				p.arena = append(p.arena, u.data...)
				p.tuples = append(p.tuples, tuple{ts: u.ts, code: u.code, off: off, n: len(u.data), seq: len(p.tuples)})
			}
			batches, err := p.buildBatches()
			if err != nil {
				t.Fatal(err)
			}
			if len(batches) != len(tc.wantSizes) {
				t.Fatalf("%d batches, want %d", len(batches), len(tc.wantSizes))
			}
			var order []int64
			for i, b := range batches {
				it, err := mutation.NewDupIter(b.body)
				if err != nil {
					t.Fatal(err)
				}
				var e mutation.DupEntry
				var sizes []int
				var last mutation.DupEntry
				total := 0
				for it.Next(&e) {
					sizes = append(sizes, len(e.RawMessage))
					order = append(order, e.Timestamp)
					total += len(e.RawMessage)
					if !e.HasClusterID || e.ClusterID != 1 || e.HasVerifyTimetag {
						t.Errorf("entry cluster id %v/%d verify_timetag set %v", e.HasClusterID, e.ClusterID, e.HasVerifyTimetag)
					}
					last = e
				}
				if err := it.Err(); err != nil {
					t.Fatal(err)
				}
				if it.Legacy() || it.WrapperID() != 0 {
					t.Errorf("body shape legacy=%v wrapper id %d, want v2.4 shape with id 0", it.Legacy(), it.WrapperID())
				}
				if !slices.Equal(sizes, tc.wantSizes[i]) || b.entries != len(sizes) || b.bytes != total {
					t.Errorf("batch %d: sizes %v (entries %d bytes %d), want %v", i, sizes, b.entries, b.bytes, tc.wantSizes[i])
				}
				h, err := mutation.PayloadHash(last.Code(), last.RawMessage)
				if err != nil || h != b.hash {
					t.Errorf("batch %d hash %#x, want the last entry's %#x (%v)", i, b.hash, h, err)
				}
			}
			if !slices.Equal(order, tc.wantOrder) {
				t.Errorf("shipping order %v, want %v", order, tc.wantOrder)
			}
		})
	}
}

// discover is walreader.Discover (tested there) with replay's error: a
// path without plogs is ErrNoPartitions.
func TestDiscover(t *testing.T) {
	root := t.TempDir()
	if _, err := walwriter.Generate(context.Background(), walwriter.GenOptions{Dir: root, AppID: 3, Partitions: 4, Mutations: 40, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if srcs, err := discover([]string{root}); err != nil || len(srcs) != 4 || len(srcs[0].files) != 1 {
		t.Errorf("root: %+v %v, want 4 partitions", srcs, err)
	}
	empty := t.TempDir()
	if _, err := discover([]string{empty}); !errors.Is(err, ErrNoPartitions) {
		t.Errorf("empty dir: %v, want ErrNoPartitions", err)
	}
	if _, err := discover([]string{filepath.Join(empty, "missing")}); err == nil {
		t.Error("missing path accepted")
	}
}

func TestProgressFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.json")
	p, err := loadProgress(path, "t")
	if err != nil || p.lastDecree("x") != 0 {
		t.Fatalf("fresh progress: %v", err)
	}
	if err := p.update("x", 1, 2, 42); err != nil {
		t.Fatal(err)
	}
	if err := p.update("y", 1, 3, 7); err != nil { // within flushEvery: kept dirty
		t.Fatal(err)
	}
	if err := p.flush(); err != nil {
		t.Fatal(err)
	}
	q, err := loadProgress(path, "t")
	if err != nil || q.lastDecree("x") != 42 || q.lastDecree("y") != 7 {
		t.Fatalf("reloaded: %v x=%d y=%d", err, q.lastDecree("x"), q.lastDecree("y"))
	}
	if _, err := loadProgress(path, "other"); err == nil {
		t.Error("a progress file of another table was accepted")
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("%d files next to the progress file, want no temp files left", len(ents))
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadProgress(path, "t"); err == nil {
		t.Error("a corrupt progress file was accepted")
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram")
	}
	for i := 1; i <= 100; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}} {
		got := h.quantile(c.q)
		if got < c.want || got > c.want*105/100 {
			t.Errorf("q%.2f = %v, want %v within the 4%% bucket", c.q, got, c.want)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := limiter{rate: 1000}
	start := time.Now()
	for i := 0; i < 5; i++ {
		if _, err := l.wait(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
	}
	// 50 mutations at 1000/s: the 5th wait starts 40 ms after the first.
	if el := time.Since(start); el < 35*time.Millisecond {
		t.Fatalf("5 waits of 10 at 1000/s took %v", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.wait(ctx, 1000); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	good := Options{MetaAddrs: []string{"127.0.0.1:1"}, Table: "t", ClusterID: 1, Paths: []string{"x"}}
	mod := func(f func(o *Options)) Options { o := good; f(&o); return o }
	for name, o := range map[string]Options{
		"no meta":        mod(func(o *Options) { o.MetaAddrs = nil }),
		"no table":       mod(func(o *Options) { o.Table = "" }),
		"cluster id 0":   mod(func(o *Options) { o.ClusterID = 0 }),
		"cluster id 128": mod(func(o *Options) { o.ClusterID = 128 }),
		"no paths":       mod(func(o *Options) { o.Paths = nil }),
		"bad discipline": mod(func(o *Options) { o.Discipline = "fast" }),
		"negative rate":  mod(func(o *Options) { o.Rate = -1 }),
	} {
		if _, err := Run(context.Background(), o); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%s: %v, want ErrBadOptions", name, err)
		}
	}
	if d, err := ParseDiscipline("pipelined"); err != nil || d != DisciplinePipelined {
		t.Errorf("ParseDiscipline: %v %v", d, err)
	}
}
