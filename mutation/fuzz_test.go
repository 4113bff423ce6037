package mutation

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dupbridge/dupbridge/internal/wirevec"
)

// Fuzz targets for the three decoders. Seed corpora live in
// testdata/fuzz/<Target>/ (written by TestWriteFuzzSeeds with
// MUTATION_WRITE_SEEDS=1) and are also added in code.

func seedPayloads() [][]byte {
	var out [][]byte
	for _, u := range sampleUpdates() {
		for _, wid := range []int16{0, 1} {
			b, _ := Encode(nil, wid, &u)
			out = append(out, append([]byte{byte(u.Code)}, b...))
		}
	}
	return out
}

func FuzzDecode(f *testing.F) {
	for _, s := range seedPayloads() {
		f.Add(s[0], s[1:])
	}
	f.Fuzz(func(t *testing.T, code uint8, data []byte) {
		c := Code(code % 12)
		u, err := Decode(c, data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownCode) {
				t.Fatalf("untyped error %v", err)
			}
			if c != CodeDuplicate && c != CodeBulkLoad && c != CodeWriteEmpty && c != CodeUnknown && c < 11 {
				// The hot-path walker and the decoder accept the same bytes.
				if _, herr := PayloadHash(c, data); !errors.Is(herr, ErrMalformed) {
					t.Fatalf("Decode failed (%v) but PayloadHash did not (%v)", err, herr)
				}
			}
			return
		}
		if c != CodeDuplicate && c != CodeBulkLoad && c != CodeWriteEmpty {
			if _, herr := PayloadHash(c, data); errors.Is(herr, ErrMalformed) {
				t.Fatalf("Decode passed but PayloadHash says malformed: %v", herr)
			}
		}
		// Encoding the decoded model reaches a fixed point in one step.
		enc, err := Encode(nil, u.WrapperID, u)
		if err != nil {
			t.Fatalf("Encode of a decoded update: %v", err)
		}
		u2, err := Decode(c, enc)
		if err != nil {
			t.Fatalf("Decode of our encoding: %v\n% x", err, enc)
		}
		enc2, err := Encode(nil, u2.WrapperID, u2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %v\n% x\n% x", err, enc, enc2)
		}
	})
}

func FuzzPayloadHash(f *testing.F) {
	for _, s := range seedPayloads() {
		f.Add(s[0], s[1:])
	}
	f.Fuzz(func(t *testing.T, code uint8, data []byte) {
		c := Code(code % 12)
		h, err := PayloadHash(c, data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownCode) &&
				!errors.Is(err, ErrBadKey) && !errors.Is(err, ErrNotRoutable) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		u, err := Decode(c, data)
		if err != nil {
			t.Fatalf("PayloadHash ok (%#x) but Decode failed: %v", h, err)
		}
		var want uint64
		switch c {
		case CodePut:
			want = KeyHash(u.Put.Key)
		case CodeRemove:
			want = KeyHash(u.RemoveKey)
		case CodeIncr:
			want = KeyHash(u.Incr.Key)
		case CodeMultiPut:
			want = HashKeyHash(u.MultiPut.HashKey)
		case CodeMultiRemove:
			want = HashKeyHash(u.MultiRemove.HashKey)
		case CodeCheckAndSet:
			want = HashKeyHash(u.CheckAndSet.HashKey)
		case CodeCheckAndMutate:
			want = HashKeyHash(u.CheckAndMutate.HashKey)
		case CodeDuplicate:
			es := u.Duplicate.Entries
			last := es[len(es)-1]
			want, err = PayloadHash(last.Code(), last.RawMessage)
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("code %s hashed", c)
		}
		if h != want {
			t.Fatalf("hash %#x, decoded key gives %#x", h, want)
		}
	})
}

func FuzzDupIter(f *testing.F) {
	for _, s := range seedPayloads() {
		if Code(s[0]) == CodeDuplicate {
			f.Add(s[1:])
		}
	}
	f.Add(manyEntries(5))
	f.Fuzz(func(t *testing.T, data []byte) {
		it, err := NewDupIter(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		var (
			e       DupEntry
			entries []DupEntry
		)
		for it.Next(&e) {
			entries = append(entries, e)
		}
		if err := it.Err(); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(entries) != it.Len() {
			t.Fatalf("%d entries, Len %d", len(entries), it.Len())
		}
		// Raw entries copied verbatim make a request with the same entries.
		var w DupRequestWriter
		w.Begin(nil, it.WrapperID())
		for i := range entries {
			w.AppendRaw(entries[i].Raw)
		}
		it2, err := NewDupIter(w.Finish())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for ; it2.Next(&e); n++ {
			if n == len(entries) {
				t.Fatalf("rewritten request has more than %d entries", len(entries))
			}
			want := entries[n]
			if !bytes.Equal(e.Raw, want.Raw) {
				t.Fatalf("entry %d raw differs", n)
			}
			e.Raw, want.Raw = nil, nil
			if !reflect.DeepEqual(e, want) {
				t.Fatalf("entry %d: %+v vs %+v", n, e, want)
			}
		}
		if it2.Err() != nil {
			t.Fatal(it2.Err())
		}
		if n != len(entries) || it2.Len() != len(entries) {
			t.Fatalf("rewritten request: %d entries (Len %d), want %d", n, it2.Len(), len(entries))
		}
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpora; it runs only
// with MUTATION_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("MUTATION_WRITE_SEEDS") != "1" {
		t.Skip("set MUTATION_WRITE_SEEDS=1 to rewrite testdata/fuzz seed corpora")
	}
	write := func(target, name string, lines ...string) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := "go test fuzz v1\n"
		for _, l := range lines {
			body += l + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	two := func(target, name string, code byte, b []byte) {
		write(target, name, fmt.Sprintf("byte(%q)", code), fmt.Sprintf("[]byte(%q)", b))
	}
	fixture := hx(t, fixturePut('a'))
	remove := hx(t, "0c 00 00 00 00 00 04 00 01 61 61 00")
	dup := wirevec.Bytes(wirevec.DuplicateRequestBody)
	for _, target := range []string{"FuzzDecode", "FuzzPayloadHash"} {
		for i, s := range seedPayloads() {
			two(target, fmt.Sprintf("sample_%02d_%s", i, Code(s[0])), s[0], s[1:])
		}
		two(target, "fixture_put", byte(CodePut), fixture)
		two(target, "doc_remove", byte(CodeRemove), remove)
		two(target, "doc_duplicate", byte(CodeDuplicate), dup)
		two(target, "truncated_put", byte(CodePut), fixture[:17])
		two(target, "negative_length", byte(CodeRemove), []byte{0x0c, 0, 0, 0xff, 0xff, 0xff, 0xff, 0})
	}
	write("FuzzDupIter", "doc_duplicate", fmt.Sprintf("[]byte(%q)", dup))
	write("FuzzDupIter", "many_entries", fmt.Sprintf("[]byte(%q)", manyEntries(5)))
	legacy := AppendDupLegacy(nil, 1, &DupEntry{Timestamp: 1, TaskCode: bs(NameRemove), RawMessage: remove, ClusterID: 2, HasClusterID: true})
	write("FuzzDupIter", "legacy", fmt.Sprintf("[]byte(%q)", legacy))
	write("FuzzDupIter", "empty_request", fmt.Sprintf("[]byte(%q)", []byte{0x0c, 0, 0, 0, 0}))
	write("FuzzDupIter", "truncated", fmt.Sprintf("[]byte(%q)", dup[:40]))
}
