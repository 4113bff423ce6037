package thrift

// Kind is what a schema says a value is. It differs from the wire Type for
// rDSN's special types, which travel with a STRUCT type byte but carry a
// primitive payload (wire.md §3).
type Kind uint8

const (
	KindInvalid Kind = iota
	KindBool
	KindI8
	KindI16
	KindI32 // also enums
	KindI64
	KindDouble
	KindBinary // string or binary
	KindStruct
	KindList
	KindSet
	KindMap
	// rDSN special types (wire type STRUCT; wire.md §3).
	KindBlob       // i32 length + bytes
	KindErrorCode  // string (the error name)
	KindTaskCode   // string (the task code name)
	KindGpid       // i64
	KindRPCAddress // i64, type bits 0 or 1
	KindHostPort   // string, i16, i8 (type 0 or 1)
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindBool:
		return "bool"
	case KindI8:
		return "i8"
	case KindI16:
		return "i16"
	case KindI32:
		return "i32"
	case KindI64:
		return "i64"
	case KindDouble:
		return "double"
	case KindBinary:
		return "binary"
	case KindStruct:
		return "struct"
	case KindList:
		return "list"
	case KindSet:
		return "set"
	case KindMap:
		return "map"
	case KindBlob:
		return "blob"
	case KindErrorCode:
		return "error_code"
	case KindTaskCode:
		return "task_code"
	case KindGpid:
		return "gpid"
	case KindRPCAddress:
		return "rpc_address"
	case KindHostPort:
		return "host_port"
	}
	return "Kind(0x" + hex2(byte(k)) + ")"
}

// WireType is the type byte a value of kind k travels with.
func (k Kind) WireType() Type {
	switch k {
	case KindBool:
		return BOOL
	case KindI8:
		return BYTE
	case KindI16:
		return I16
	case KindI32:
		return I32
	case KindI64:
		return I64
	case KindDouble:
		return DOUBLE
	case KindBinary:
		return STRING
	case KindStruct, KindBlob, KindErrorCode, KindTaskCode, KindGpid, KindRPCAddress, KindHostPort:
		return STRUCT
	case KindList:
		return LIST
	case KindSet:
		return SET
	case KindMap:
		return MAP
	}
	return STOP
}

// Special reports whether k is one of rDSN's special types.
func (k Kind) Special() bool { return k >= KindBlob && k <= KindHostPort }

// minSize is the smallest encoding of a value of kind k; with a schema the
// list/map count check is stricter than the wire type alone allows.
func (k Kind) minSize() int {
	switch k {
	case KindBlob, KindErrorCode, KindTaskCode:
		return 4
	case KindGpid, KindRPCAddress:
		return 8
	case KindHostPort:
		return 7
	}
	return k.WireType().minSize()
}

// KindOf is the kind a value read without a schema has: its wire type taken
// literally (a STRUCT is a real struct).
func KindOf(t Type) Kind {
	switch t {
	case BOOL:
		return KindBool
	case BYTE:
		return KindI8
	case I16:
		return KindI16
	case I32:
		return KindI32
	case I64:
		return KindI64
	case DOUBLE:
		return KindDouble
	case STRING:
		return KindBinary
	case STRUCT:
		return KindStruct
	case LIST:
		return KindList
	case SET:
		return KindSet
	case MAP:
		return KindMap
	}
	return KindInvalid
}

// Schema describes one value type. For KindStruct, Struct lists the fields
// (nil: a struct of unknown fields, read generically). For KindList and
// KindSet, Elem is the element; for KindMap, Key and Elem (the value). A nil
// Elem or Key means "read by wire type". Schemas are read-only once built
// and may be shared between goroutines.
type Schema struct {
	Kind   Kind
	Struct *StructSchema
	Elem   *Schema
	Key    *Schema
}

// StructSchema is a struct's fields, in the order writers emit them
// (declaration order; ascending id in this project's IDL).
type StructSchema struct {
	Name   string
	Fields []FieldSchema
}

// FieldSchema is one struct field.
type FieldSchema struct {
	ID       int16
	Name     string
	Optional bool // written only when set
	Type     Schema
}

// Field returns the field with the given id, or nil.
func (s *StructSchema) Field(id int16) *FieldSchema {
	if s == nil {
		return nil
	}
	for i := range s.Fields {
		if s.Fields[i].ID == id {
			return &s.Fields[i]
		}
	}
	return nil
}

// SchemaOf returns a Schema for a struct.
func SchemaOf(s *StructSchema) *Schema { return &Schema{Kind: KindStruct, Struct: s} }

// SkipSchema skips one value described by s. It knows rDSN's special types
// and reads them by their payload, so a special-typed field unknown to the
// caller but present in s is skipped correctly (wire.md §3). Inside a
// struct, fields not in the schema, and fields whose wire type differs from
// the schema's, are skipped generically by their wire type, as thrift does.
// A nil s means "generic by wire type" and is only valid inside containers;
// top-level callers pass a non-nil s. Nesting is bounded by MaxDepth.
func (r *Reader) SkipSchema(s *Schema) error {
	if s == nil {
		return newErr("skip schema", r.pos, ErrBadType)
	}
	return r.skipKind(s)
}

// SkipField skips the value of a field whose header (typ, id) the caller
// has just read and does not decode itself, using st to recognise special
// types. This is the call a hand-written decoder makes for ids it ignores.
func (r *Reader) SkipField(st *StructSchema, typ Type, id int16) error {
	if f := st.Field(id); f != nil && f.Type.Kind.WireType() == typ {
		return r.skipKind(&f.Type)
	}
	return r.Skip(typ)
}

func (r *Reader) skipKind(s *Schema) error {
	start := r.pos
	switch s.Kind {
	case KindBool, KindI8, KindI16, KindI32, KindI64, KindDouble, KindBinary:
		return r.Skip(s.Kind.WireType())
	case KindBlob, KindErrorCode, KindTaskCode:
		_, err := r.ReadBinary()
		return err
	case KindGpid:
		return r.skipN(8, "gpid")
	case KindRPCAddress:
		_, err := r.ReadRPCAddress()
		return err
	case KindHostPort:
		_, _, _, err := r.ReadHostPort()
		return err
	case KindStruct:
		if s.Struct == nil {
			return r.Skip(STRUCT)
		}
		if err := r.enter(start); err != nil {
			return err
		}
		err := r.skipFields(s.Struct)
		r.leave()
		return err
	case KindList, KindSet:
		if err := r.enter(start); err != nil {
			return err
		}
		err := r.skipList(s.Elem)
		r.leave()
		return err
	case KindMap:
		if err := r.enter(start); err != nil {
			return err
		}
		err := r.skipMap(s.Key, s.Elem)
		r.leave()
		return err
	}
	return newErr("skip schema", start, ErrBadType)
}

func (r *Reader) skipFields(st *StructSchema) error {
	for {
		ft, id, err := r.ReadFieldHeader()
		if err != nil {
			return err
		}
		if ft == STOP {
			return nil
		}
		if err := r.SkipField(st, ft, id); err != nil {
			return err
		}
	}
}

func (r *Reader) skipList(elem *Schema) error {
	et, n, err := r.readListHeaderFor(elem)
	if err != nil {
		return err
	}
	if elem != nil && elem.Kind.WireType() != et {
		elem = nil
	}
	for i := 0; i < n; i++ {
		if err := r.skipElem(elem, et); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) skipMap(key, val *Schema) error {
	kt, vt, n, err := r.readMapHeaderFor(key, val)
	if err != nil {
		return err
	}
	if key != nil && key.Kind.WireType() != kt {
		key = nil
	}
	if val != nil && val.Kind.WireType() != vt {
		val = nil
	}
	for i := 0; i < n; i++ {
		if err := r.skipElem(key, kt); err != nil {
			return err
		}
		if err := r.skipElem(val, vt); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) skipElem(s *Schema, t Type) error {
	if s == nil {
		return r.Skip(t)
	}
	return r.skipKind(s)
}

// readListHeaderFor is ReadListHeader with the count check tightened by the
// element's schema kind when the wire element type matches it.
func (r *Reader) readListHeaderFor(elem *Schema) (Type, int, error) {
	start := r.pos
	et, n, err := r.ReadListHeader()
	if err != nil {
		return 0, 0, err
	}
	if elem != nil && elem.Kind.WireType() == et &&
		int64(n)*int64(elem.Kind.minSize()) > int64(r.Remaining()) {
		r.pos = start
		return 0, 0, newErr("list count", start, ErrTooLong)
	}
	return et, n, nil
}

func (r *Reader) readMapHeaderFor(key, val *Schema) (Type, Type, int, error) {
	start := r.pos
	kt, vt, n, err := r.ReadMapHeader()
	if err != nil {
		return 0, 0, 0, err
	}
	ks, vs := kt.minSize(), vt.minSize()
	if key != nil && key.Kind.WireType() == kt {
		ks = key.Kind.minSize()
	}
	if val != nil && val.Kind.WireType() == vt {
		vs = val.Kind.minSize()
	}
	if int64(n)*int64(ks+vs) > int64(r.Remaining()) {
		r.pos = start
		return 0, 0, 0, newErr("map count", start, ErrTooLong)
	}
	return kt, vt, n, nil
}
