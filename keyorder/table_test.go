package keyorder

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestGenerationExactUnderEqualHashes: the slot's hash only narrows the
// search; keys with equal hashes (forced here; with maphash they are rare
// but possible) stay distinct, also across growth.
func TestGenerationExactUnderEqualHashes(t *testing.T) {
	cases := []struct {
		name string
		hash func(i int) uint64
	}{
		{"all equal", func(int) uint64 { return 0x1234_5679 }},
		{"few buckets", func(i int) uint64 { return uint64(i%3)<<1 | 1 }},
		{"distinct", func(i int) uint64 { return uint64(i)*0x9e37_79b9_7f4a_7c15 | 1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGeneration(0, 0)
			const n = 200 // grows from minSlots several times
			for i := range n {
				k := []byte(fmt.Sprintf("key-%d", i))
				at, found := g.find(c.hash(i), k)
				if found {
					t.Fatalf("key %d found before insertion", i)
				}
				g.insert(at, c.hash(i), k, uint64(i))
			}
			if g.n != n || len(g.slots)*3 < g.n*4 {
				t.Fatalf("n %d, %d slots", g.n, len(g.slots))
			}
			for i := range n {
				at, found := g.find(c.hash(i), []byte(fmt.Sprintf("key-%d", i)))
				if !found || g.slots[at].tt != uint64(i) {
					t.Fatalf("key %d: found %v, timetag %d", i, found, g.slots[at].tt)
				}
			}
			if _, found := g.find(c.hash(0), []byte("key-absent")); found {
				t.Fatal("an absent key with a present key's hash was found")
			}
		})
	}
}

// TestGuardMatchesModel compares the guard with a plain map over random
// admissions of 2 scopes x 8,000 keys (the clock stands still and MaxKeys
// is far off, so the guard never rotates and must agree on every one).
func TestGuardMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Unix(0, 0)
	g := New(Options{Shards: 4, Now: func() time.Time { return now }})
	model := map[string]uint64{}
	for i := range 50_000 {
		key := fmt.Sprintf("hk%d\x00sk%d", rng.IntN(2000), rng.IntN(4))
		scope := uint32(rng.IntN(2))
		tt := Timetag(int64(rng.IntN(1000)), int8(1+rng.IntN(3)))
		mk := fmt.Sprint(scope, "/", key)
		last, known := model[mk]
		want := !known || last <= tt
		if got := g.Admit(scope, []byte(key), tt); got != want {
			t.Fatalf("admission %d of %q tt %d (last %d, known %v): got %v", i, mk, tt, last, known, got)
		}
		if want && tt > last {
			model[mk] = tt
		}
	}
	if st := g.Stats(); st.Keys != int64(len(model)) {
		t.Fatalf("guard remembers %d keys, model %d", st.Keys, len(model))
	}
}
