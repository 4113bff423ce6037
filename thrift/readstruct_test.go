package thrift

import (
	"errors"
	"testing"
)

// ReadStruct hands every field to f, skips the ones f leaves, stops at
// STOP, and passes on f's and the reader's errors.
func TestReadStruct(t *testing.T) {
	var w Writer
	w.FieldHeader(I32, 1)
	w.I32(7)
	w.FieldHeader(STRING, 2) // left to Skip
	w.String("skip me")
	w.FieldHeader(I64, 3)
	w.I64(-9)
	w.Stop()
	w.I8(0x55) // after the struct: must not be read

	r := NewReader(w.B)
	var a int32
	var c int64
	var seen []int16
	err := r.ReadStruct(func(typ Type, id int16) (bool, error) {
		seen = append(seen, id)
		var err error
		switch {
		case id == 1 && typ == I32:
			a, err = r.ReadI32()
		case id == 3 && typ == I64:
			c, err = r.ReadI64()
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil || a != 7 || c != -9 || len(seen) != 3 || r.Remaining() != 1 {
		t.Fatalf("err %v a %d c %d seen %v remaining %d", err, a, c, seen, r.Remaining())
	}

	boom := errors.New("boom")
	r = NewReader(w.B)
	if err := r.ReadStruct(func(Type, int16) (bool, error) { return true, boom }); !errors.Is(err, boom) {
		t.Fatalf("f's error: %v", err)
	}
	for n := 0; n < len(w.B)-2; n++ { // every truncation before the STOP
		r = NewReader(w.B[:n])
		err := r.ReadStruct(func(Type, int16) (bool, error) { return false, nil })
		if !errors.Is(err, ErrShort) && !errors.Is(err, ErrTooLong) {
			t.Fatalf("truncated at %d: %v, want ErrShort or ErrTooLong", n, err)
		}
	}
}
