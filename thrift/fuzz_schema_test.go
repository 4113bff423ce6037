package thrift_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dupbridge/dupbridge/idl/schema"
	"github.com/dupbridge/dupbridge/thrift"
)

// FuzzSchemaSkip: data[0] picks one of the IDL structs of propertyTypes,
// data[1:] is its encoding. SkipSchema and ReadValue must agree, a value
// read must re-encode to exactly its bytes, errors must be typed; the
// generated decoder must not panic on accepted input, and whatever it
// decodes must re-encode to bytes our schema skip accepts whole.
// Seeds: testdata/fuzz/FuzzSchemaSkip (written by TestWriteFuzzSeeds).
func FuzzSchemaSkip(f *testing.F) {
	types := propertyTypes()
	schemas := make([]*thrift.Schema, len(types))
	for i, mk := range types {
		s, err := schema.TypeOf(mk())
		if err != nil {
			f.Fatal(err)
		}
		schemas[i] = s
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		sel := int(data[0]) % len(types)
		in := data[1:]
		s := schemas[sel]

		r := thrift.NewReader(in)
		skipErr := r.SkipSchema(s)
		n := r.Pos()
		assertTypedErr(t, skipErr)
		r = thrift.NewReader(in)
		v, valErr := r.ReadValue(s)
		assertTypedErr(t, valErr)
		if (skipErr == nil) != (valErr == nil) || (skipErr == nil && r.Pos() != n) {
			t.Fatalf("SkipSchema (%v, %d bytes) and ReadValue (%v, %d bytes) disagree", skipErr, n, valErr, r.Pos())
		}
		if skipErr != nil {
			return
		}
		var w thrift.Writer
		if err := w.Value(&v); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if string(w.B) != string(in[:n]) {
			t.Fatalf("re-encode differs:\n got % x\nwant % x", w.B, in[:n])
		}

		if len(v.AppendText(nil, s)) == 0 {
			t.Fatalf("empty text rendering")
		}
		g := types[sel]()
		if _, err := genDecode(g, in[:n]); err != nil {
			// Legitimate: e.g. a list whose element type byte differs from
			// the IDL is skipped by us but read as the IDL type by
			// generated code.
			return
		}
		out := genEncode(t, g)
		r = thrift.NewReader(out)
		if err := r.SkipSchema(s); err != nil || r.Remaining() != 0 {
			t.Fatalf("generated re-encoding rejected: %v, %d left", err, r.Remaining())
		}
	})
}

func assertTypedErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var te *thrift.Error
	if !errors.As(err, &te) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
	for _, s := range []error{thrift.ErrShort, thrift.ErrNegativeLength, thrift.ErrTooLong, thrift.ErrDepth,
		thrift.ErrBadType, thrift.ErrBadMessage, thrift.ErrBadValue} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error wraps no sentinel: %v", err)
}

// TestWriteFuzzSeeds regenerates the committed seed corpora of FuzzReader
// and FuzzSchemaSkip when DUPBRIDGE_WRITE_FUZZ_SEEDS=1; otherwise it checks
// that they exist.
func TestWriteFuzzSeeds(t *testing.T) {
	write := os.Getenv("DUPBRIDGE_WRITE_FUZZ_SEEDS") == "1"
	dirReader := filepath.Join("testdata", "fuzz", "FuzzReader")
	dirSchema := filepath.Join("testdata", "fuzz", "FuzzSchemaSkip")
	if !write {
		for _, d := range []string{dirReader, dirSchema} {
			ents, err := os.ReadDir(d)
			if err != nil || len(ents) == 0 {
				t.Fatalf("seed corpus %s missing (run with DUPBRIDGE_WRITE_FUZZ_SEEDS=1): %v", d, err)
			}
		}
		return
	}
	rng := rand.New(rand.NewPCG(5, 6))
	seeds := map[string][]byte{}
	types := propertyTypes()
	for i, mk := range types {
		name := reflect.TypeOf(mk()).Elem().Name()
		for j := 0; j < 2; j++ {
			g := mk()
			fillRandom(rng, reflect.ValueOf(g).Elem(), 0)
			b := genEncode(t, g)
			seeds[fmt.Sprintf("schema-%s-%d", name, j)] = append([]byte{byte(i)}, b...)
			if j == 0 {
				seeds[fmt.Sprintf("reader-%s", name)] = b
			}
		}
	}
	// Golden bodies from the docs (hex as printed there).
	golden := []struct {
		name string
		typ  string // propertyTypes entry the bytes decode as
		hex  string
	}{
		// wire.md §3: partition_configuration with hp_primary.
		{"pc-wire3", "PartitionConfiguration", "0c0001000000050000000" + "20a000200000000000000030800030000000" +
			"30c00047f0000018729000" + "10f00050c000000000f00060c000000000a0007000000000000006408000800000000" +
			"0c0009000000096c6f63616c686f737487f10100"},
		// wire.md §1.13: the query_cfg response body (field 0 = result).
		{"querycfg-resp-wire1.13", "MetaQueryCfgResult", "0c00000c0001000000144552525f4f424a4543545f4e4f545f464f554e44" +
			"0800020000000008000300000000020004000f00050c000000000000"},
	}
	for _, gd := range golden {
		b, err := hex.DecodeString(gd.hex)
		if err != nil {
			t.Fatal(err)
		}
		for i, mk := range types {
			if reflect.TypeOf(mk()).Elem().Name() == gd.typ {
				seeds["schema-"+gd.name] = append([]byte{byte(i)}, b...)
			}
		}
		seeds["reader-"+gd.name] = b
	}
	for name, b := range seeds {
		dir := dirSchema
		if len(name) > 7 && name[:7] == "reader-" {
			dir = dirReader
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
