package router

import (
	"bytes"
	"testing"

	"github.com/dupbridge/dupbridge/internal/wirevec"
	"github.com/dupbridge/dupbridge/mutation"
)

func TestBuilderMatchesWorkedBody(t *testing.T) {
	want := wirevec.Bytes(wirevec.DuplicateRequestBody)
	// The entry is bytes 0x0b..0x5a of the worked body (its table).
	entry := want[0x0b:0x5b]
	key := mutation.AppendRawKey(nil, []byte("hk1"), []byte("s"))
	var b Builder
	if b.Shipment(1) != nil {
		t.Fatal("empty builder made a shipment")
	}
	b.Add(entry, mutation.KeyHash(key), 1700000000000000)
	if b.Len() != 1 || b.Size() != len(want) {
		t.Fatalf("Len %d Size %d, want 1 %d", b.Len(), b.Size(), len(want))
	}
	s := b.Shipment(4)
	if !bytes.Equal(s.Body, want) {
		t.Fatalf("body\n got %x\nwant %x", s.Body, want)
	}
	if s.Entries != 1 || s.PartitionCount != 4 || s.PartitionHash != mutation.KeyHash(key) ||
		s.FirstTimestamp != 1700000000000000 || s.LastTimestamp != 1700000000000000 || s.Size() != len(want) {
		t.Fatalf("shipment %+v", s)
	}
	if b.Len() != 0 || b.Size() != 0 {
		t.Fatal("builder not reset")
	}
	// Same bytes as mutation's writer.
	var w mutation.DupRequestWriter
	w.Begin(nil, 0)
	w.AppendRaw(entry)
	if got := w.Finish(); !bytes.Equal(got, want) {
		t.Fatalf("mutation.DupRequestWriter differs: %x", got)
	}
}

func TestBuilderMany(t *testing.T) {
	var b Builder
	var w mutation.DupRequestWriter
	w.Begin(nil, 0)
	var last uint64
	for i := 0; i < 300; i++ {
		raw, h := encodeEntry("k"+string(rune('a'+i%26)), i)
		b.Add(raw, h, int64(i))
		w.AppendRaw(raw)
		last = h
	}
	s := b.Shipment(8)
	if !bytes.Equal(s.Body, w.Finish()) || s.Entries != 300 || s.PartitionHash != last || s.FirstTimestamp != 0 || s.LastTimestamp != 299 {
		t.Fatalf("shipment of 300 entries differs from mutation.DupRequestWriter")
	}
	// The Builder is reusable and the first body is not aliased.
	body := append([]byte(nil), s.Body...)
	raw, h := encodeEntry("x", 1)
	b.Add(raw, h, 5)
	s2 := b.Shipment(8)
	if !bytes.Equal(s.Body, body) || s2.Entries != 1 || s2.FirstTimestamp != 5 {
		t.Fatal("reuse corrupted an earlier shipment")
	}
}

func TestCanonicalBody(t *testing.T) {
	worked := wirevec.Bytes(wirevec.DuplicateRequestBody)
	thft := append([]byte(nil), worked...)
	thft[2] = 1 // THFT args use wrapper field id 1 (wire.md §1.9)
	var legacy []byte
	legacy = mutation.AppendDupLegacy(legacy, 0, &mutation.DupEntry{Timestamp: 1, TaskCode: []byte(mutation.NamePut), RawMessage: []byte{0x0c, 0, 0, 0}})
	negative := append([]byte(nil), worked...)
	negative[7] = 0x80
	cases := []struct {
		name    string
		body    []byte
		ok      bool
		n       int
		entries []byte
	}{
		{"worked body", worked, true, 1, worked[0x0b:0x5b]},
		{"thft wrapper id", thft, true, 1, worked[0x0b:0x5b]},
		{"empty list", []byte{0x0c, 0, 0, 0x0f, 0, 1, 0x0c, 0, 0, 0, 0, 0, 0}, true, 0, []byte{}},
		{"legacy shape", legacy, false, 0, nil},
		{"too short", worked[:12], false, 0, nil},
		{"empty", nil, false, 0, nil},
		{"negative count", negative, false, 0, nil},
		// The envelope check does not walk entries: a body missing one
		// STOP still looks canonical; inspect rejects it (below).
		{"entry cut short", worked[:len(worked)-1], true, 1, worked[0x0b:0x5a]},
		{"missing stops", worked[:len(worked)-2], false, 0, nil},
		{"not a struct wrapper", append([]byte{0x0b}, worked[1:]...), false, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, n, ok := CanonicalBody(tc.body)
			if ok != tc.ok || n != tc.n || (ok && !bytes.Equal(e, tc.entries)) {
				t.Fatalf("CanonicalBody = %x, %d, %v; want %x, %d, %v", e, n, ok, tc.entries, tc.n, tc.ok)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	worked := wirevec.Bytes(wirevec.DuplicateRequestBody)
	wrongCount := append([]byte(nil), worked...)
	wrongCount[10] = 2
	cases := []struct {
		name    string
		body    []byte
		want    bool
		entries int
	}{
		{"worked body", worked, true, 1},
		{"many entries", shipment(1, "a", 1, "b", 2, "a", 3).Body, true, 3},
		{"entry cut short", worked[:len(worked)-1], false, 0},
		{"count says 2, one entry", wrongCount, false, 0},
		{"empty", nil, false, 0},
	}
	for _, tc := range cases {
		got, hashes := inspect(tc.body)
		if got != tc.want || len(hashes) != tc.entries || (!got && hashes != nil) {
			t.Errorf("%s: inspect = %v, %d hashes; want %v, %d", tc.name, got, len(hashes), tc.want, tc.entries)
		}
	}
}

// FuzzCanonicalBody: CanonicalBody never panics, and what it accepts lies
// inside the body; re-wrapping the entries reproduces the body with the
// wrapper id normalised to 0.
func FuzzCanonicalBody(f *testing.F) {
	f.Add(wirevec.Bytes(wirevec.DuplicateRequestBody))
	f.Add([]byte{0x0c, 0, 0, 0x0f, 0, 1, 0x0c, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x0c, 0, 0, 0x0a, 0, 1})
	f.Fuzz(func(t *testing.T, body []byte) {
		e, n, ok := CanonicalBody(body)
		if !ok {
			return
		}
		if n < 0 || len(e) != len(body)-BodyOverhead {
			t.Fatalf("n %d, entries %d of body %d", n, len(e), len(body))
		}
		re := append(appendBodyHeader(nil, n), e...)
		re = append(re, 0, 0)
		want := append([]byte(nil), body...)
		want[1], want[2] = 0, 0
		if !bytes.Equal(re, want) {
			t.Fatalf("re-wrapped %x, want %x", re, want)
		}
	})
}

// FuzzSplitShipment: re-splitting arbitrary bodies never panics, and a
// successful split keeps every entry exactly once, each where its hash
// routes it.
func FuzzSplitShipment(f *testing.F) {
	f.Add(wirevec.Bytes(wirevec.DuplicateRequestBody), uint8(4))
	s := shipment(1, "a", 1, "b", 2, "c", 3, "d", 4)
	f.Add(s.Body, uint8(3))
	f.Fuzz(func(t *testing.T, body []byte, count uint8) {
		if count == 0 {
			return
		}
		parts, err := splitShipment(&Shipment{Body: body, Entries: 1}, int(count))
		if err != nil {
			return
		}
		in, _ := mutation.NewDupIter(body)
		total := 0
		for _, pt := range parts {
			it, err := mutation.NewDupIter(pt.s.Body)
			if err != nil {
				t.Fatalf("part does not parse: %v", err)
			}
			var e mutation.DupEntry
			for it.Next(&e) {
				h, err := e.Hash()
				if err != nil || mutation.PartitionIndex(h, int(count)) != pt.p {
					t.Fatalf("entry misrouted: %v", err)
				}
				total++
			}
		}
		if total != in.Len() {
			t.Fatalf("%d entries after split, %d before", total, in.Len())
		}
	})
}
