package thrift

import "bytes"

// Value is a decoded value of any kind: the cold-path, allocating form used
// by tools (body dumps), tests and fuzzing. Byte fields are sub-slices of the
// reader's buffer. Writing a Value read from bytes reproduces those bytes
// exactly (bools keep their raw byte, fields keep their wire order, unknown
// fields are kept).
type Value struct {
	Kind Kind
	// Int holds BOOL (the raw byte), I8, I16, I32, I64, DOUBLE (the IEEE
	// bits), gpid and rpc_address (the wire i64), host_port (the port).
	Int int64
	// Bytes holds BINARY, blob, error_code and task_code payloads, and the
	// host_port host.
	Bytes []byte
	// HPType is the host_port type byte.
	HPType int8
	// Fields of a STRUCT, in wire order.
	Fields []FieldValue
	// Elems of a LIST or SET; for a MAP, keys and values interleaved.
	Elems []Value
	// ElemType is the element type byte of a LIST or SET, the value type of
	// a MAP; KeyType the key type of a MAP. They are kept as read, because
	// an empty container still carries them.
	ElemType, KeyType Type
}

// FieldValue is one struct field of a Value. Its wire type is
// Value.Kind.WireType().
type FieldValue struct {
	ID    int16
	Value Value
}

// Field returns the first field with the given id, or nil.
func (v *Value) Field(id int16) *Value {
	for i := range v.Fields {
		if v.Fields[i].ID == id {
			return &v.Fields[i].Value
		}
	}
	return nil
}

// Equal reports whether v and o encode to the same bytes (nil and empty
// byte slices are equal).
func (v *Value) Equal(o *Value) bool {
	if v.Kind != o.Kind || v.Int != o.Int || v.HPType != o.HPType ||
		!bytes.Equal(v.Bytes, o.Bytes) || len(v.Fields) != len(o.Fields) ||
		len(v.Elems) != len(o.Elems) {
		return false
	}
	switch v.Kind {
	case KindList, KindSet, KindMap:
		if v.ElemType != o.ElemType || v.KeyType != o.KeyType {
			return false
		}
	}
	for i := range v.Fields {
		if v.Fields[i].ID != o.Fields[i].ID || !v.Fields[i].Value.Equal(&o.Fields[i].Value) {
			return false
		}
	}
	for i := range v.Elems {
		if !v.Elems[i].Equal(&o.Elems[i]) {
			return false
		}
	}
	return true
}

// maxPrealloc caps slice preallocation from an untrusted count; the count
// itself is already bounded by the remaining bytes.
const maxPrealloc = 1024

// ReadValue reads one value described by s (not nil), with the same rules
// as SkipSchema: fields and elements that the schema does not describe, or
// whose wire type differs from it, are read by their wire type. It
// allocates, roughly in proportion to the number of values in the input.
func (r *Reader) ReadValue(s *Schema) (Value, error) {
	if s == nil {
		return Value{}, newErr("read value", r.pos, ErrBadType)
	}
	return r.readValue(s)
}

func (r *Reader) readValue(s *Schema) (Value, error) {
	start := r.pos
	v := Value{Kind: s.Kind}
	var err error
	switch s.Kind {
	case KindBool:
		var b int8
		b, err = r.ReadI8()
		v.Int = int64(uint8(b))
	case KindI8:
		var b int8
		b, err = r.ReadI8()
		v.Int = int64(b)
	case KindI16:
		var x int16
		x, err = r.ReadI16()
		v.Int = int64(x)
	case KindI32:
		var x int32
		x, err = r.ReadI32()
		v.Int = int64(x)
	case KindI64, KindDouble, KindGpid:
		v.Int, err = r.ReadI64()
	case KindRPCAddress:
		var a uint64
		a, err = r.ReadRPCAddress()
		v.Int = int64(a)
	case KindBinary, KindBlob, KindErrorCode, KindTaskCode:
		v.Bytes, err = r.ReadBinary()
	case KindHostPort:
		var port uint16
		v.Bytes, port, v.HPType, err = r.ReadHostPort()
		v.Int = int64(port)
	case KindStruct:
		err = r.readStructValue(s.Struct, &v)
	case KindList, KindSet:
		err = r.readListValue(s.Elem, &v)
	case KindMap:
		err = r.readMapValue(s.Key, s.Elem, &v)
	default:
		err = newErr("read value", start, ErrBadType)
	}
	if err != nil {
		return Value{}, err
	}
	return v, nil
}

// genericSchemas holds, per wire type byte, the schema that reads a value
// of that type literally (KindOf). Read-only.
var genericSchemas = func() (g [LIST + 1]Schema) {
	for t := range g {
		g[t].Kind = KindOf(Type(t))
	}
	return g
}()

// invalidSchema is the generic schema of a type byte beyond LIST (an empty
// map's key or value type is not checked); reading with it fails.
var invalidSchema = Schema{Kind: KindInvalid}

// schemaFor returns s when it matches wire type t, else the generic schema
// for t (shared, not allocated per value).
func schemaFor(s *Schema, t Type) *Schema {
	if s != nil && s.Kind.WireType() == t {
		return s
	}
	if int(t) < len(genericSchemas) {
		return &genericSchemas[t]
	}
	return &invalidSchema
}

func (r *Reader) readStructValue(st *StructSchema, v *Value) error {
	if err := r.enter(r.pos); err != nil {
		return err
	}
	defer r.leave()
	for {
		ft, id, err := r.ReadFieldHeader()
		if err != nil {
			return err
		}
		if ft == STOP {
			return nil
		}
		var fs *Schema
		if f := st.Field(id); f != nil {
			fs = &f.Type
		}
		fv, err := r.readValue(schemaFor(fs, ft))
		if err != nil {
			return err
		}
		v.Fields = append(v.Fields, FieldValue{ID: id, Value: fv})
	}
}

func (r *Reader) readListValue(elem *Schema, v *Value) error {
	if err := r.enter(r.pos); err != nil {
		return err
	}
	defer r.leave()
	et, n, err := r.readListHeaderFor(elem)
	if err != nil {
		return err
	}
	v.ElemType = et
	es := schemaFor(elem, et)
	v.Elems = make([]Value, 0, min(n, maxPrealloc))
	for i := 0; i < n; i++ {
		e, err := r.readValue(es)
		if err != nil {
			return err
		}
		v.Elems = append(v.Elems, e)
	}
	return nil
}

func (r *Reader) readMapValue(key, val *Schema, v *Value) error {
	if err := r.enter(r.pos); err != nil {
		return err
	}
	defer r.leave()
	kt, vt, n, err := r.readMapHeaderFor(key, val)
	if err != nil {
		return err
	}
	v.KeyType, v.ElemType = kt, vt
	ks, vs := schemaFor(key, kt), schemaFor(val, vt)
	v.Elems = make([]Value, 0, min(2*n, maxPrealloc))
	for i := 0; i < n; i++ {
		k, err := r.readValue(ks)
		if err != nil {
			return err
		}
		e, err := r.readValue(vs)
		if err != nil {
			return err
		}
		v.Elems = append(v.Elems, k, e)
	}
	return nil
}

// Value appends v. It fails (ErrBadValue, ErrBadType), leaving B with a
// partial encoding, for values no peer accepts: an rpc_address or host_port
// type other than 0 or 1, a map with an odd number of Elems, an unknown
// kind, a container element whose kind does not match the container's
// element type.
func (w *Writer) Value(v *Value) error {
	switch v.Kind {
	case KindBool, KindI8:
		w.B = append(w.B, byte(v.Int))
	case KindI16:
		w.I16(int16(v.Int))
	case KindI32:
		w.I32(int32(v.Int))
	case KindI64, KindDouble, KindGpid:
		w.I64(v.Int)
	case KindRPCAddress:
		if uint64(v.Int)&3 > 1 {
			return newErr("write rpc_address type", len(w.B), ErrBadValue)
		}
		w.I64(v.Int)
	case KindBinary, KindBlob, KindErrorCode, KindTaskCode:
		w.Binary(v.Bytes)
	case KindHostPort:
		if v.HPType != 0 && v.HPType != 1 {
			return newErr("write host_port type", len(w.B), ErrBadValue)
		}
		w.Binary(v.Bytes)
		w.I16(int16(v.Int))
		w.I8(v.HPType)
	case KindStruct:
		for i := range v.Fields {
			f := &v.Fields[i]
			w.FieldHeader(f.Value.Kind.WireType(), f.ID)
			if err := w.Value(&f.Value); err != nil {
				return err
			}
		}
		w.Stop()
	case KindList, KindSet:
		w.ListHeader(v.ElemType, len(v.Elems))
		for i := range v.Elems {
			if v.Elems[i].Kind.WireType() != v.ElemType {
				return newErr("write list element", len(w.B), ErrBadType)
			}
			if err := w.Value(&v.Elems[i]); err != nil {
				return err
			}
		}
	case KindMap:
		if len(v.Elems)%2 != 0 {
			return newErr("write map", len(w.B), ErrBadValue)
		}
		w.MapHeader(v.KeyType, v.ElemType, len(v.Elems)/2)
		for i := range v.Elems {
			want := v.ElemType
			if i%2 == 0 {
				want = v.KeyType
			}
			if v.Elems[i].Kind.WireType() != want {
				return newErr("write map entry", len(w.B), ErrBadType)
			}
			if err := w.Value(&v.Elems[i]); err != nil {
				return err
			}
		}
	default:
		return newErr("write value", len(w.B), ErrBadType)
	}
	return nil
}
