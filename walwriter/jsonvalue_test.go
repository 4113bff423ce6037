package walwriter

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/dupbridge/dupbridge/verify"
)

// Every JSON value is a valid document of exactly the size asked (sizes
// from the 200 floor to 2000), with the nested record shape, and the same
// seed gives the same bytes.
func TestJSONValue(t *testing.T) {
	for _, n := range []int{1, 199, 200, 201, 257, 333, 640, 1000, 1500, 1999, 2000} {
		for seed := uint64(1); seed <= 40; seed++ {
			v := jsonValue(nil, rand.New(rand.NewPCG(seed, 7)), n, 1735689600_000_000)
			again := jsonValue(nil, rand.New(rand.NewPCG(seed, 7)), n, 1735689600_000_000)
			if want := max(n, jsonMinSize); len(v) != want {
				t.Fatalf("n=%d seed %d: %d bytes, want %d: %s", n, seed, len(v), want, v)
			}
			if !bytes.Equal(v, again) {
				t.Fatalf("n=%d seed %d: not deterministic", n, seed)
			}
			var doc struct {
				ID    int64            `json:"id"`
				User  map[string]any   `json:"user"`
				Items []map[string]any `json:"items"`
				Note  *string          `json:"note"`
			}
			if err := json.Unmarshal(v, &doc); err != nil {
				t.Fatalf("n=%d seed %d: %v: %s", n, seed, err, v)
			}
			if doc.ID == 0 || doc.User["name"] == nil || doc.Note == nil || (n >= 1000 && len(doc.Items) < 3) {
				t.Fatalf("n=%d seed %d: record shape missing (id, user.name, note, items): %s", n, seed, v)
			}
		}
	}
}

// Generate with ValuesJSON writes the same plogs for the same seed, and
// every value a follower would hold is a JSON document in the default
// 200..2000 range.
func TestGenerateJSONValues(t *testing.T) {
	gen := func() *GenResult {
		res, err := Generate(context.Background(), GenOptions{
			Dir: t.TempDir(), Partitions: 4, Mutations: 1500, Seed: 9, Values: ValuesJSON, FinalEmpty: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := gen(), gen()
	var parts [][]string
	for i := range a.Partitions {
		fa, fb := a.Partitions[i].Files, b.Partitions[i].Files
		if len(fa) != len(fb) || len(fa) == 0 {
			t.Fatalf("partition %d: %d vs %d files", i, len(fa), len(fb))
		}
		for j := range fa {
			x, err1 := os.ReadFile(fa[j])
			y, err2 := os.ReadFile(fb[j])
			if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
				t.Fatalf("%s and %s differ (same seed): %v %v", filepath.Base(fa[j]), filepath.Base(fb[j]), err1, err2)
			}
		}
		parts = append(parts, []string{a.Partitions[i].Dir})
	}
	st, err := verify.FromPlogs(parts)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Keys) < 100 {
		t.Fatalf("only %d keys hold a value", len(st.Keys))
	}
	for k, v := range st.Keys {
		if n := len(v.Value); n < DefaultJSONValueMin || n > DefaultJSONValueMax || !json.Valid(v.Value) {
			t.Fatalf("key %q: %d-byte value, valid JSON %v", k, n, json.Valid(v.Value))
		}
	}
}

// JSON values compress the way user data does, far better than the random
// letters of the default generator: a property of the generator (what a
// compressed WAN link will see), not a performance figure. Values are
// compressed a shipment at a time (a few dozen of them together).
func TestJSONValuesCompress(t *testing.T) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	ratio := func(values Values) float64 {
		var raw, packed int
		for shipment := 0; shipment < 20; shipment++ {
			var buf []byte
			for i := 0; i < 40; i++ {
				n := DefaultJSONValueMin + rng.IntN(DefaultJSONValueMax-DefaultJSONValueMin+1)
				if values == ValuesJSON {
					buf = jsonValue(buf, rng, n, 1735689600_000_000+int64(i))
					continue
				}
				for j := 0; j < n; j++ {
					buf = append(buf, byte('a'+rng.IntN(26)))
				}
			}
			raw += len(buf)
			packed += len(enc.EncodeAll(buf, nil))
		}
		return float64(raw) / float64(packed)
	}
	js, letters := ratio(ValuesJSON), ratio(ValuesLetters)
	t.Logf("zstd ratio: json %.2f, letters %.2f", js, letters)
	if js < 3 || js < 2*letters {
		t.Fatalf("JSON values compress %.2f×, letters %.2f×: want ≥ 3× and ≥ twice the letters", js, letters)
	}
}
