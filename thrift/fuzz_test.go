package thrift

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReader walks arbitrary bytes as a struct of unknown fields: the
// generic Skip and the generic ReadValue must agree on success and length,
// a value read must re-encode to exactly the bytes it came from, and every
// failure must be a typed *Error. The header readers must not panic either.
// Seeds: testdata/fuzz/FuzzReader (written by TestWriteFuzzSeeds).
func FuzzReader(f *testing.F) {
	f.Add(sample())
	in, _ := specialSample()
	f.Add(in)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(data)
		skipErr := r.Skip(STRUCT)
		skipPos := r.Pos()
		checkTyped(t, skipErr)

		r = NewReader(data)
		v, valErr := r.ReadValue(&Schema{Kind: KindStruct})
		checkTyped(t, valErr)
		if (skipErr == nil) != (valErr == nil) {
			t.Fatalf("Skip err %v, ReadValue err %v", skipErr, valErr)
		}
		if skipErr == nil {
			if r.Pos() != skipPos {
				t.Fatalf("Skip consumed %d bytes, ReadValue %d", skipPos, r.Pos())
			}
			var w Writer
			if err := w.Value(&v); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if !bytes.Equal(w.B, data[:skipPos]) {
				t.Fatalf("re-encode differs:\n got % x\nwant % x", w.B, data[:skipPos])
			}
			if len(v.AppendText(nil, nil)) == 0 {
				t.Fatalf("empty text rendering")
			}
		}

		// Header readers on the same bytes: typed errors, positions in range.
		for _, read := range []func(r *Reader) error{
			func(r *Reader) error { _, _, _, err := r.ReadMessageBegin(); return err },
			func(r *Reader) error { _, _, err := r.ReadWrapperBegin(); return err },
			func(r *Reader) error { _, _, err := r.ReadListHeader(); return err },
			func(r *Reader) error { _, _, _, err := r.ReadMapHeader(); return err },
			func(r *Reader) error { _, _, _, err := r.ReadHostPort(); return err },
			func(r *Reader) error { _, err := r.ReadRPCAddress(); return err },
			func(r *Reader) error { return r.SkipSchema(&Schema{Kind: KindList, Elem: &Schema{Kind: KindHostPort}}) },
			func(r *Reader) error {
				return r.SkipSchema(&Schema{Kind: KindMap, Key: &Schema{Kind: KindBlob}, Elem: &Schema{Kind: KindGpid}})
			},
		} {
			r := NewReader(data)
			err := read(&r)
			checkTyped(t, err)
			if r.Pos() < 0 || r.Pos() > len(data) {
				t.Fatalf("position %d outside [0,%d]", r.Pos(), len(data))
			}
		}
	})
}

func checkTyped(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
	for _, s := range []error{ErrShort, ErrNegativeLength, ErrTooLong, ErrDepth, ErrBadType, ErrBadMessage, ErrBadValue} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error wraps no sentinel: %v", err)
}
