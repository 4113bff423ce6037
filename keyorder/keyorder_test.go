package keyorder

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/mutation"
)

func TestAdmitOrder(t *testing.T) {
	type step struct {
		key  string
		ts   int64
		cid  int8
		want bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"newer after older", []step{{"k", 10, 1, true}, {"k", 20, 1, true}}},
		{"older after newer is dropped", []step{{"k", 20, 1, true}, {"k", 10, 1, false}}},
		{"equal is a retransmission, admitted", []step{{"k", 20, 1, true}, {"k", 20, 1, true}}},
		// Equal timestamps: the larger cluster id wins, as the follower's
		// verify_timetag rule decides (duplication.md §4.4).
		{"equal ts, smaller cluster dropped", []step{{"k", 20, 5, true}, {"k", 20, 3, false}}},
		{"equal ts, larger cluster admitted", []step{{"k", 20, 3, true}, {"k", 20, 5, true}}},
		{"keys are independent", []step{{"a", 20, 1, true}, {"b", 10, 1, true}, {"a", 15, 1, false}, {"b", 15, 1, true}}},
		{"a dropped write does not lower the mark", []step{{"k", 30, 1, true}, {"k", 10, 1, false}, {"k", 20, 1, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := New(Options{})
			for i, s := range c.steps {
				if got := g.Admit(1, []byte(s.key), Timetag(s.ts, s.cid)); got != s.want {
					t.Fatalf("step %d %+v: admitted %v", i, s, got)
				}
			}
		})
	}
}

func TestScopesAreSeparate(t *testing.T) {
	g := New(Options{})
	if !g.Admit(1, []byte("k"), Timetag(20, 1)) || !g.Admit(2, []byte("k"), Timetag(10, 1)) {
		t.Fatal("the same key of two tables must not interfere")
	}
}

func TestRotationForgets(t *testing.T) {
	now := time.Unix(1000, 0)
	g := New(Options{Window: 10 * time.Second, Shards: 1, Now: func() time.Time { return now }})
	g.Admit(1, []byte("k"), Timetag(20, 1))
	now = now.Add(6 * time.Second) // first rotation: k moves to the previous generation
	if g.Admit(1, []byte("k"), Timetag(10, 1)) {
		t.Fatal("a key in the previous generation is still remembered")
	}
	// The failed admission above did not refresh k; two more rotations
	// forget it.
	now = now.Add(6 * time.Second)
	g.Admit(1, []byte("other"), Timetag(1, 1))
	now = now.Add(6 * time.Second)
	if !g.Admit(1, []byte("k"), Timetag(10, 1)) {
		t.Fatal("a key older than the window is still remembered")
	}
	st := g.Stats()
	if st.Rotations < 2 || st.Forgotten < 1 || st.Superseded != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	g := New(Options{MaxKeys: 100, Shards: 1})
	for i := 0; i < 10_000; i++ {
		g.Admit(1, []byte(fmt.Sprint(i)), Timetag(int64(i), 1))
	}
	if st := g.Stats(); st.Keys > 100 {
		t.Fatalf("remembers %d keys, cap 100", st.Keys)
	}
}

func TestAdmitKnownKeyDoesNotAllocate(t *testing.T) {
	g := New(Options{})
	key := []byte("hash-key-and-sort-key")
	g.Admit(1, key, Timetag(1, 1))
	ts := int64(2)
	if n := testing.AllocsPerRun(1000, func() { g.Admit(1, key, Timetag(ts, 1)); ts++ }); n != 0 {
		t.Fatalf("%v allocs per admission of a known key", n)
	}
}

func TestConcurrentAdmitKeepsNewest(t *testing.T) {
	g := New(Options{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				g.Admit(1, []byte(fmt.Sprint(i%50)), Timetag(int64(w*10_000+i), 1))
			}
		}(w)
	}
	wg.Wait()
	for i := 0; i < 50; i++ {
		if g.Admit(1, []byte(fmt.Sprint(i)), Timetag(7*10_000+1999-50, 1)) {
			t.Fatalf("key %d: an older write than the newest admitted got through", i)
		}
	}
}

func entry(ts int64, code mutation.Code, raw []byte) *mutation.DupEntry {
	return &mutation.DupEntry{Timestamp: ts, TaskCode: []byte(code.Name()), RawMessage: raw, ClusterID: 1, HasClusterID: true}
}

func rk(hk, sk string) []byte { return mutation.AppendRawKey(nil, []byte(hk), []byte(sk)) }

func TestFilterEntries(t *testing.T) {
	g := New(Options{})
	put := func(ts int64, k []byte, v string) *mutation.DupEntry {
		return entry(ts, mutation.CodePut, mutation.AppendPut(nil, 0, k, []byte(v), 0))
	}
	// A newer PUT then an older PUT and an older REMOVE of the same key.
	if v, _, err := g.Filter(1, put(100, rk("h", "a"), "new")); err != nil || v != Keep {
		t.Fatalf("newer put: %v %v", v, err)
	}
	if v, _, err := g.Filter(1, put(50, rk("h", "a"), "old")); err != nil || v != Drop {
		t.Fatalf("older put: %v %v", v, err)
	}
	if v, _, err := g.Filter(1, entry(60, mutation.CodeRemove, mutation.AppendRemove(nil, 1, rk("h", "a")))); err != nil || v != Drop {
		t.Fatalf("older remove (THFT wrapper id 1): %v %v", v, err)
	}
	// An older MULTI_PUT touching a (superseded) and b (new): rewritten to b only.
	mp := &mutation.MultiPutRequest{HashKey: []byte("h"), Kvs: []mutation.KeyValue{
		{Key: []byte("a"), Value: []byte("old-a")}, {Key: []byte("b"), Value: []byte("b")}}, ExpireTsSeconds: 7}
	v, raw, err := g.Filter(1, entry(70, mutation.CodeMultiPut, mutation.AppendMultiPut(nil, 0, mp)))
	if err != nil || v != Rewrite {
		t.Fatalf("partly superseded multi_put: %v %v", v, err)
	}
	u, err := mutation.Decode(mutation.CodeMultiPut, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.MultiPut.Kvs) != 1 || string(u.MultiPut.Kvs[0].Key) != "b" || u.MultiPut.ExpireTsSeconds != 7 || string(u.MultiPut.HashKey) != "h" {
		t.Fatalf("rewritten multi_put = %+v", u.MultiPut)
	}
	// An older MULTI_REMOVE of a and b: both superseded now.
	mr := &mutation.MultiRemoveRequest{HashKey: []byte("h"), SortKeys: [][]byte{[]byte("a"), []byte("b")}}
	if v, _, err := g.Filter(1, entry(60, mutation.CodeMultiRemove, mutation.AppendMultiRemove(nil, 0, mr))); err != nil || v != Drop {
		t.Fatalf("fully superseded multi_remove: %v %v", v, err)
	}
	// A newer MULTI_REMOVE of a and c: kept whole.
	mr.SortKeys = [][]byte{[]byte("a"), []byte("c")}
	if v, _, err := g.Filter(1, entry(200, mutation.CodeMultiRemove, mutation.AppendMultiRemove(nil, 0, mr))); err != nil || v != Keep {
		t.Fatalf("newer multi_remove: %v %v", v, err)
	}
	st := g.Stats()
	if st.Superseded != 5 { // old put, old remove, multi_put's a, multi_remove's a and b
		t.Fatalf("superseded = %d, want 5", st.Superseded)
	}
}

func TestFilterMalformed(t *testing.T) {
	g := New(Options{})
	good := mutation.AppendPut(nil, 0, rk("h", "a"), []byte("v"), 0)
	// Filter needs only the key: every truncation before the key's last
	// byte (wrapper 3 + field header 3 + length 4 + key 4 = 14 bytes) is an
	// error. Whole-payload validation is mutation.PayloadHash's job.
	for i := 0; i < 14; i++ {
		if _, _, err := g.Filter(1, entry(1, mutation.CodePut, good[:i])); err == nil {
			t.Fatalf("truncated put payload (%d bytes) accepted", i)
		}
	}
}

func TestFilterPutDoesNotAllocate(t *testing.T) {
	g := New(Options{})
	e := entry(1, mutation.CodePut, mutation.AppendPut(nil, 0, rk("hash", "sort"), make([]byte, 200), 0))
	g.Filter(1, e)
	if n := testing.AllocsPerRun(1000, func() { e.Timestamp++; g.Filter(1, e) }); n != 0 {
		t.Fatalf("%v allocs per PUT entry of a known key", n)
	}
}

func FuzzFilter(f *testing.F) {
	f.Add(uint8(mutation.CodePut), mutation.AppendPut(nil, 0, rk("h", "a"), []byte("v"), 0))
	f.Add(uint8(mutation.CodeRemove), mutation.AppendRemove(nil, 1, rk("h", "a")))
	f.Add(uint8(mutation.CodeMultiPut), mutation.AppendMultiPut(nil, 0, &mutation.MultiPutRequest{HashKey: []byte("h"),
		Kvs: []mutation.KeyValue{{Key: []byte("a"), Value: []byte("v")}}}))
	f.Add(uint8(mutation.CodeMultiRemove), mutation.AppendMultiRemove(nil, 0, &mutation.MultiRemoveRequest{HashKey: []byte("h"),
		SortKeys: [][]byte{[]byte("a")}}))
	f.Fuzz(func(t *testing.T, code uint8, raw []byte) {
		g := New(Options{Shards: 2})
		e := entry(10, mutation.Code(code), raw)
		v, out, err := g.Filter(1, e)
		if err != nil && v != Keep {
			t.Fatalf("error with verdict %v", v)
		}
		if v == Rewrite {
			if _, err := mutation.Decode(mutation.Code(code), out); err != nil {
				t.Fatalf("rewritten payload does not decode: %v", err)
			}
		}
	})
}

// FilterTied tells a write whose key's newest admitted write has the same
// timetag (two updates of one mutation) from a strictly newer one.
func TestFilterTied(t *testing.T) {
	g := New(Options{})
	put := func(ts int64, sk, v string) *mutation.DupEntry {
		return entry(ts, mutation.CodePut, mutation.AppendPut(nil, 0, rk("h", sk), []byte(v), 0))
	}
	mput := func(ts int64, sks ...string) *mutation.DupEntry {
		mp := &mutation.MultiPutRequest{HashKey: []byte("h")}
		for _, sk := range sks {
			mp.Kvs = append(mp.Kvs, mutation.KeyValue{Key: []byte(sk), Value: []byte("v")})
		}
		return entry(ts, mutation.CodeMultiPut, mutation.AppendMultiPut(nil, 0, mp))
	}
	steps := []struct {
		name string
		e    *mutation.DupEntry
		v    Verdict
		tied bool
	}{
		{"first write of a", put(100, "a", "1"), Keep, false},
		{"second update of a in the same mutation", put(100, "a", "2"), Keep, true},
		{"newer write of a", put(101, "a", "3"), Keep, false},
		{"older write of a", put(100, "a", "4"), Drop, false},
		{"multi_put of b and a, a tied", mput(101, "b", "a"), Keep, true},
		{"multi_put of new keys", mput(101, "c", "d"), Keep, false},
		{"remove of c at the same timetag", entry(101, mutation.CodeRemove, mutation.AppendRemove(nil, 1, rk("h", "c"))), Keep, true},
	}
	for _, s := range steps {
		v, _, tied, err := g.FilterTied(1, s.e)
		if err != nil || v != s.v || tied != s.tied {
			t.Errorf("%s: verdict %v tied %v err %v, want %v %v", s.name, v, tied, err, s.v, s.tied)
		}
	}
}

// Older decides as Admit does but remembers nothing.
func TestOlderRecordsNothing(t *testing.T) {
	g := New(Options{})
	k := []byte("\x00\x01ab")
	cases := []struct {
		name  string
		older bool // call Older, else Admit
		tt    uint64
		want  bool // Older's answer, or Admit's
	}{
		{"unknown key is not older", true, 5, false},
		{"so nothing was recorded: an older admit passes", false, 3, true},
		{"older than the admitted write", true, 2, true},
		{"equal is not older", true, 3, false},
		{"newer is not older", true, 9, false},
		{"and was not recorded either", false, 4, true},
	}
	for _, tc := range cases {
		var got bool
		if tc.older {
			got = g.Older(1, k, tc.tt)
		} else {
			got = g.Admit(1, k, tc.tt)
		}
		if got != tc.want {
			t.Fatalf("%s: got %v", tc.name, got)
		}
	}
	if st := g.Stats(); st.Keys != 1 || st.Admitted != 2 {
		t.Fatalf("stats %+v", st)
	}
}
