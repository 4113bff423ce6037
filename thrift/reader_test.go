package thrift

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// sample builds a struct exercising every wire type, with a nested struct,
// a list, a set and a map (thrift binary protocol, wire.md §0.2).
func sample() []byte {
	var w Writer
	w.FieldHeader(BOOL, 1)
	w.Bool(true)
	w.FieldHeader(BYTE, 2)
	w.I8(-3)
	w.FieldHeader(I16, 3)
	w.I16(-300)
	w.FieldHeader(I32, 4)
	w.I32(70000)
	w.FieldHeader(I64, 5)
	w.I64(-1 << 40)
	w.FieldHeader(DOUBLE, 6)
	w.Double(2.5)
	w.FieldHeader(STRING, 7)
	w.String("hello")
	w.FieldHeader(STRUCT, 8)
	w.FieldHeader(I32, 1)
	w.I32(9)
	w.Stop()
	w.FieldHeader(LIST, 9)
	w.ListHeader(STRING, 2)
	w.String("a")
	w.String("")
	w.FieldHeader(SET, 10)
	w.SetHeader(I16, 1)
	w.I16(7)
	w.FieldHeader(MAP, 11)
	w.MapHeader(STRING, I64, 1)
	w.String("k")
	w.I64(1)
	w.Stop()
	return w.B
}

func TestPrimitivesRoundTrip(t *testing.T) {
	var w Writer
	w.Bool(false)
	w.I8(math.MinInt8)
	w.I16(math.MaxInt16)
	w.I32(math.MinInt32)
	w.I64(math.MaxInt64)
	w.Double(-0.125)
	w.Binary([]byte{1, 2})
	w.Blob(nil)
	w.Gpid(7, -1)
	w.RPCAddress(0x0a00000187290001)
	w.HostPort("h", 34801, 1)

	r := NewReader(w.B)
	check := func(ok bool, what string) {
		t.Helper()
		if !ok {
			t.Fatalf("%s mismatch at offset %d", what, r.Pos())
		}
	}
	b, err := r.ReadBool()
	check(err == nil && !b, "bool")
	i8, err := r.ReadI8()
	check(err == nil && i8 == math.MinInt8, "i8")
	i16, err := r.ReadI16()
	check(err == nil && i16 == math.MaxInt16, "i16")
	i32, err := r.ReadI32()
	check(err == nil && i32 == math.MinInt32, "i32")
	i64, err := r.ReadI64()
	check(err == nil && i64 == math.MaxInt64, "i64")
	d, err := r.ReadDouble()
	check(err == nil && d == -0.125, "double")
	bin, err := r.ReadBinary()
	check(err == nil && bytes.Equal(bin, []byte{1, 2}) && cap(bin) == 2, "binary (capped sub-slice)")
	blob, err := r.ReadBlob()
	check(err == nil && len(blob) == 0, "blob")
	app, pidx, err := r.ReadGpid()
	check(err == nil && app == 7 && pidx == -1, "gpid")
	addr, err := r.ReadRPCAddress()
	check(err == nil && addr == 0x0a00000187290001, "rpc_address")
	host, port, typ, err := r.ReadHostPort()
	check(err == nil && string(host) == "h" && port == 34801 && typ == 1, "host_port")
	check(r.Remaining() == 0, "remaining")
}

func TestMessageBegin(t *testing.T) {
	var w Writer
	w.MessageBegin("RPC_X", MessageCall, 42)
	// Non-strict form: name, i8 type, seqid.
	w.String("ping")
	w.I8(MessageReply)
	w.I32(-5)
	r := NewReader(w.B)
	name, typ, seq, err := r.ReadMessageBegin()
	if err != nil || string(name) != "RPC_X" || typ != MessageCall || seq != 42 {
		t.Fatalf("strict: %q %d %d %v", name, typ, seq, err)
	}
	name, typ, seq, err = r.ReadMessageBegin()
	if err != nil || string(name) != "ping" || typ != MessageReply || seq != -5 {
		t.Fatalf("non-strict: %q %d %d %v", name, typ, seq, err)
	}
}

func TestWrapper(t *testing.T) {
	// wire.md §1.9: type byte, arbitrary field id, payload, STOP.
	var w Writer
	w.WrapperBegin(STRUCT, 1)
	w.Blob([]byte("k"))
	w.WrapperEnd()
	r := NewReader(w.B)
	typ, id, err := r.ReadWrapperBegin()
	if err != nil || typ != STRUCT || id != 1 {
		t.Fatalf("wrapper begin: %v %d %v", typ, id, err)
	}
	if b, err := r.ReadBlob(); err != nil || string(b) != "k" {
		t.Fatalf("payload: %q %v", b, err)
	}
	if err := r.ReadWrapperEnd(); err != nil || r.Remaining() != 0 {
		t.Fatalf("wrapper end: %v", err)
	}
}

func TestSkipSample(t *testing.T) {
	in := sample()
	r := NewReader(in)
	if err := r.Skip(STRUCT); err != nil || r.Remaining() != 0 {
		t.Fatalf("skip: %v, %d left", err, r.Remaining())
	}
	r = NewReader(in)
	v, err := r.ReadValue(&Schema{Kind: KindStruct})
	if err != nil || r.Remaining() != 0 {
		t.Fatalf("read value: %v", err)
	}
	var w Writer
	if err := w.Value(&v); err != nil || !bytes.Equal(w.B, in) {
		t.Fatalf("re-encode: %v\n got % x\nwant % x", err, w.B, in)
	}
	if f := v.Field(7); f == nil || string(f.Bytes) != "hello" {
		t.Fatalf("field 7 = %+v", f)
	}
}

// errCase is one malformed input and the sentinel its read must return.
type errCase struct {
	name string
	in   []byte
	read func(r *Reader) error
	want error
}

func be32(v int32) []byte {
	return []byte{byte(uint32(v) >> 24), byte(uint32(v) >> 16), byte(uint32(v) >> 8), byte(v)}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func nested(t Type, depth int) []byte {
	var w Writer
	for i := 0; i < depth; i++ {
		switch t {
		case STRUCT:
			w.FieldHeader(STRUCT, 1)
		case LIST:
			w.ListHeader(LIST, 1)
		case MAP:
			w.MapHeader(I32, MAP, 1)
			w.I32(0)
		}
	}
	return w.B
}

func skipStruct(r *Reader) error { return r.Skip(STRUCT) }

func TestReaderErrors(t *testing.T) {
	binary := func(r *Reader) error { _, err := r.ReadBinary(); return err }
	list := func(r *Reader) error { _, _, err := r.ReadListHeader(); return err }
	mapH := func(r *Reader) error { _, _, _, err := r.ReadMapHeader(); return err }
	field := func(r *Reader) error { _, _, err := r.ReadFieldHeader(); return err }
	msg := func(r *Reader) error { _, _, _, err := r.ReadMessageBegin(); return err }
	addr := func(r *Reader) error { _, err := r.ReadRPCAddress(); return err }
	hp := func(r *Reader) error { _, _, _, err := r.ReadHostPort(); return err }
	wrapBegin := func(r *Reader) error { _, _, err := r.ReadWrapperBegin(); return err }
	wrapEnd := func(r *Reader) error { return r.ReadWrapperEnd() }
	schemaSkip := func(s *Schema) func(r *Reader) error {
		return func(r *Reader) error { return r.SkipSchema(s) }
	}
	readValue := func(s *Schema) func(r *Reader) error {
		return func(r *Reader) error { _, err := r.ReadValue(s); return err }
	}
	blobList := &Schema{Kind: KindList, Elem: &Schema{Kind: KindBlob}}
	hpMap := &Schema{Kind: KindMap, Key: &Schema{Kind: KindGpid}, Elem: &Schema{Kind: KindHostPort}}

	tests := []errCase{
		{"binary negative length", be32(-1), binary, ErrNegativeLength},
		{"binary min int32 length", be32(math.MinInt32), binary, ErrNegativeLength},
		{"binary length over rest", cat(be32(5), []byte("abcd")), binary, ErrTooLong},
		{"binary huge length", be32(math.MaxInt32), binary, ErrTooLong},
		{"binary short length", []byte{0, 0}, binary, ErrShort},
		{"list negative count", cat([]byte{byte(I32)}, be32(-2)), list, ErrNegativeLength},
		{"list count over rest", cat([]byte{byte(I64)}, be32(2), make([]byte, 15)), list, ErrTooLong},
		{"list huge count of structs", cat([]byte{byte(STRUCT)}, be32(math.MaxInt32)), list, ErrTooLong},
		{"list bad element type", cat([]byte{0x07}, be32(0)), list, ErrBadType},
		{"list short header", []byte{byte(I32), 0, 0}, list, ErrShort},
		{"map negative count", cat([]byte{byte(I32), byte(I32)}, be32(-1)), mapH, ErrNegativeLength},
		{"map count over rest", cat([]byte{byte(I32), byte(I32)}, be32(1), make([]byte, 7)), mapH, ErrTooLong},
		{"map bad key type", cat([]byte{0x01, byte(I32)}, be32(1), make([]byte, 8)), mapH, ErrBadType},
		{"map short header", []byte{byte(I32), byte(I32), 0}, mapH, ErrShort},
		{"field bad type", []byte{0x10, 0, 1}, field, ErrBadType},
		{"field type 1", []byte{0x01, 0, 1}, field, ErrBadType},
		{"field short id", []byte{byte(I32), 0}, field, ErrShort},
		{"field empty", nil, field, ErrShort},
		{"message bad version", cat(be32(int32(-0x7ffdffff)), be32(0), be32(0)), msg, ErrBadMessage},
		{"message bad type", cat(be32(int32(-0x7ffeffff+4)), be32(0), be32(0)), msg, ErrBadMessage},
		{"message non-strict type 0", cat(be32(1), []byte("x"), []byte{0}, be32(0)), msg, ErrBadMessage},
		{"message short", be32(int32(-0x7ffeffff)), msg, ErrShort},
		{"rpc_address type 2", []byte{10, 0, 0, 1, 0x87, 0x29, 0, 2}, addr, ErrBadValue},
		{"rpc_address short", []byte{10, 0, 0, 1}, addr, ErrShort},
		{"host_port type 2", cat(be32(1), []byte{'h', 0, 1, 2}), hp, ErrBadValue},
		{"host_port no type", cat(be32(1), []byte{'h', 0, 1}), hp, ErrShort},
		{"host_port negative length", be32(-7), hp, ErrNegativeLength},
		{"wrapper STOP type", []byte{0, 0, 0}, wrapBegin, ErrBadType},
		{"wrapper end not STOP", []byte{1}, wrapEnd, ErrBadType},
		{"wrapper end missing", nil, wrapEnd, ErrShort},
		{"skip bad type inside struct", []byte{0x05, 0, 1, 0}, skipStruct, ErrBadType},
		{"skip struct depth", nested(STRUCT, DefaultMaxDepth+1), skipStruct, ErrDepth},
		{"skip list depth", cat([]byte{byte(LIST), 0, 1}, nested(LIST, DefaultMaxDepth+1)), skipStruct, ErrDepth},
		{"skip map depth", cat([]byte{byte(MAP), 0, 1}, nested(MAP, DefaultMaxDepth+1)), skipStruct, ErrDepth},
		{"read value depth", nested(STRUCT, DefaultMaxDepth+1), readValue(&Schema{Kind: KindStruct}), ErrDepth},
		// With a schema, a list<blob> needs 4 bytes per element, not 1.
		{"schema list<blob> count over rest", cat([]byte{byte(STRUCT)}, be32(3), make([]byte, 11)), schemaSkip(blobList), ErrTooLong},
		{"schema map<gpid,host_port> count over rest", cat([]byte{byte(STRUCT), byte(STRUCT)}, be32(1), make([]byte, 14)), schemaSkip(hpMap), ErrTooLong},
		{"schema read value list<blob> count", cat([]byte{byte(STRUCT)}, be32(3), make([]byte, 11)), readValue(blobList), ErrTooLong},
		{"schema nil", []byte{0}, schemaSkip(nil), ErrBadType},
		{"schema invalid kind", []byte{0}, schemaSkip(&Schema{}), ErrBadType},
		{"read value nil schema", []byte{0}, readValue(nil), ErrBadType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.in)
			err := tc.read(&r)
			assertErr(t, err, tc.want)
		})
	}
}

func assertErr(t *testing.T, err, want error) {
	t.Helper()
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("err = %v (%T), want *thrift.Error", err, err)
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if te.Offset < 0 {
		t.Fatalf("negative offset in %v", err)
	}
}

func TestMaxDepthOption(t *testing.T) {
	in := nested(STRUCT, 5)
	in = append(in, bytes.Repeat([]byte{0}, 6)...)
	r := NewReader(in)
	r.MaxDepth = 3
	assertErr(t, r.Skip(STRUCT), ErrDepth)
	r.Reset(in)
	if r.MaxDepth != 3 {
		t.Fatalf("Reset dropped MaxDepth")
	}
	assertErr(t, r.Skip(STRUCT), ErrDepth)
	r.Reset(in)
	r.MaxDepth = 0 // DefaultMaxDepth
	if err := r.Skip(STRUCT); err != nil || r.Remaining() != 0 {
		t.Fatalf("default depth: %v, %d left", err, r.Remaining())
	}
}

// Every strict prefix of a valid encoding fails with ErrShort or ErrTooLong
// (a length or count that no longer fits), never succeeds, never panics.
func TestTruncationAtEveryByte(t *testing.T) {
	in := sample()
	schemaIn, schemaOf := specialSample()
	for n := 0; n < len(in); n++ {
		r := NewReader(in[:n])
		assertTruncated(t, r.Skip(STRUCT), n)
		r = NewReader(in[:n])
		_, err := r.ReadValue(&Schema{Kind: KindStruct})
		assertTruncated(t, err, n)
	}
	for n := 0; n < len(schemaIn); n++ {
		r := NewReader(schemaIn[:n])
		assertTruncated(t, r.SkipSchema(schemaOf), n)
		r = NewReader(schemaIn[:n])
		_, err := r.ReadValue(schemaOf)
		assertTruncated(t, err, n)
	}
}

func assertTruncated(t *testing.T, err error, n int) {
	t.Helper()
	var te *Error
	if !errors.As(err, &te) || !(errors.Is(err, ErrShort) || errors.Is(err, ErrTooLong)) {
		t.Fatalf("prefix of %d bytes: err = %v, want ErrShort or ErrTooLong", n, err)
	}
}

// specialSample is a struct with every rDSN special type, in fields, in a
// list and as map keys and values, and its schema.
func specialSample() ([]byte, *Schema) {
	s := &Schema{Kind: KindStruct, Struct: &StructSchema{Name: "special", Fields: []FieldSchema{
		{ID: 1, Name: "blob", Type: Schema{Kind: KindBlob}},
		{ID: 2, Name: "err", Type: Schema{Kind: KindErrorCode}},
		{ID: 3, Name: "code", Type: Schema{Kind: KindTaskCode}},
		{ID: 4, Name: "pid", Type: Schema{Kind: KindGpid}},
		{ID: 5, Name: "addr", Type: Schema{Kind: KindRPCAddress}},
		{ID: 6, Name: "hp", Type: Schema{Kind: KindHostPort}},
		{ID: 7, Name: "hps", Type: Schema{Kind: KindList, Elem: &Schema{Kind: KindHostPort}}},
		{ID: 8, Name: "m", Type: Schema{Kind: KindMap, Key: &Schema{Kind: KindGpid}, Elem: &Schema{Kind: KindBlob}}},
	}}}
	var w Writer
	w.FieldHeader(STRUCT, 1)
	w.Blob([]byte("xyz"))
	w.FieldHeader(STRUCT, 2)
	w.String("ERR_OK")
	w.FieldHeader(STRUCT, 3)
	w.String("RPC_RRDB_RRDB_PUT")
	w.FieldHeader(STRUCT, 4)
	w.Gpid(1, 2)
	w.FieldHeader(STRUCT, 5)
	w.RPCAddress(0x7f00000187290001)
	w.FieldHeader(STRUCT, 6)
	w.HostPort("localhost", 34801, 1)
	w.FieldHeader(LIST, 7)
	w.ListHeader(STRUCT, 2)
	w.HostPort("a", 1, 1)
	w.HostPort("", 0, 0)
	w.FieldHeader(MAP, 8)
	w.MapHeader(STRUCT, STRUCT, 1)
	w.Gpid(3, 4)
	w.Blob([]byte("v"))
	w.Stop()
	return w.B, s
}

func TestSkipSchemaSpecialTypes(t *testing.T) {
	in, s := specialSample()
	r := NewReader(in)
	if err := r.SkipSchema(s); err != nil || r.Remaining() != 0 {
		t.Fatalf("SkipSchema: %v, %d left", err, r.Remaining())
	}
	// The generic skip cannot: it reads the blob's length bytes as a
	// field type and stops early (wire.md §3, consequence 2).
	r = NewReader(in)
	if err := r.Skip(STRUCT); err == nil && r.Remaining() == 0 {
		t.Fatalf("generic Skip unexpectedly consumed the special-typed struct")
	}

	r = NewReader(in)
	v, err := r.ReadValue(s)
	if err != nil || r.Remaining() != 0 {
		t.Fatalf("ReadValue: %v", err)
	}
	hps := v.Field(7)
	if hps == nil || len(hps.Elems) != 2 || string(hps.Elems[0].Bytes) != "a" || hps.Elems[1].HPType != 0 {
		t.Fatalf("field 7 = %+v", hps)
	}
	if pid := v.Field(4); pid == nil || pid.Kind != KindGpid || pid.Int != 2<<32|1 {
		t.Fatalf("field 4 = %+v", pid)
	}
	var w Writer
	if err := w.Value(&v); err != nil || !bytes.Equal(w.B, in) {
		t.Fatalf("re-encode: %v", err)
	}
}

// A caller that decodes only some fields skips the rest with SkipField.
func TestSkipFieldUnknownToCaller(t *testing.T) {
	in, s := specialSample()
	r := NewReader(in)
	var pid int64
	for {
		typ, id, err := r.ReadFieldHeader()
		if err != nil {
			t.Fatal(err)
		}
		if typ == STOP {
			break
		}
		if id == 4 {
			if pid, err = r.ReadI64(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := r.SkipField(s.Struct, typ, id); err != nil {
			t.Fatalf("SkipField(%d): %v", id, err)
		}
	}
	if pid != 2<<32|1 || r.Remaining() != 0 {
		t.Fatalf("pid %x, %d left", pid, r.Remaining())
	}
}

// A field whose wire type differs from the schema is skipped by its wire
// type, as thrift-generated readers do; an unknown id likewise.
func TestSkipSchemaTypeMismatch(t *testing.T) {
	s := &Schema{Kind: KindStruct, Struct: &StructSchema{Fields: []FieldSchema{
		{ID: 1, Type: Schema{Kind: KindBlob}},
	}}}
	var w Writer
	w.FieldHeader(STRING, 1) // a string where the schema says blob
	w.String("abc")
	w.FieldHeader(I32, 99) // unknown field
	w.I32(5)
	w.Stop()
	r := NewReader(w.B)
	if err := r.SkipSchema(s); err != nil || r.Remaining() != 0 {
		t.Fatalf("SkipSchema: %v", err)
	}
	r = NewReader(w.B)
	v, err := r.ReadValue(s)
	if err != nil || v.Field(1).Kind != KindBinary || v.Field(99).Int != 5 {
		t.Fatalf("ReadValue: %+v %v", v, err)
	}
}

func TestWriterValueErrors(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want error
	}{
		{"rpc_address type 3", Value{Kind: KindRPCAddress, Int: 3}, ErrBadValue},
		{"host_port type 2", Value{Kind: KindHostPort, HPType: 2}, ErrBadValue},
		{"odd map", Value{Kind: KindMap, KeyType: I32, ElemType: I32, Elems: []Value{{Kind: KindI32}}}, ErrBadValue},
		{"list element kind mismatch", Value{Kind: KindList, ElemType: I32, Elems: []Value{{Kind: KindI64}}}, ErrBadType},
		{"map key kind mismatch", Value{Kind: KindMap, KeyType: I32, ElemType: I32, Elems: []Value{{Kind: KindI64}, {Kind: KindI32}}}, ErrBadType},
		{"invalid kind", Value{}, ErrBadType},
		{"nested invalid", Value{Kind: KindStruct, Fields: []FieldValue{{ID: 1, Value: Value{Kind: KindRPCAddress, Int: 2}}}}, ErrBadValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w Writer
			assertErr(t, w.Value(&tc.v), tc.want)
		})
	}
}

func TestKindWireType(t *testing.T) {
	for k := KindBool; k <= KindHostPort; k++ {
		wt := k.WireType()
		if !wt.Valid() {
			t.Errorf("%v: wire type %v invalid", k, wt)
		}
		if k.Special() != (k >= KindBlob) {
			t.Errorf("%v: Special() = %v", k, k.Special())
		}
		if k.Special() && wt != STRUCT {
			t.Errorf("%v: special kind must travel as STRUCT (wire.md §3), got %v", k, wt)
		}
		if !k.Special() && k != KindStruct && KindOf(wt) != k {
			t.Errorf("KindOf(%v) = %v, want %v", wt, KindOf(wt), k)
		}
		if k.String() == "" {
			t.Errorf("%d: empty name", k)
		}
	}
	if KindInvalid.WireType() != STOP || KindOf(STOP) != KindInvalid {
		t.Errorf("invalid kind mapping")
	}
}

func TestAppendText(t *testing.T) {
	in, s := specialSample()
	r := NewReader(in)
	v, err := r.ReadValue(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{blob="xyz", err="ERR_OK", code="RPC_RRDB_RRDB_PUT", pid=1.2, addr=127.0.0.1:34601, ` +
		`hp=localhost:34801, hps=[a:1, invalid-host-port], m=map{3.4: "v"}}`
	if got := string(v.AppendText(nil, s)); got != want {
		t.Fatalf("AppendText:\n got %s\nwant %s", got, want)
	}
	r = NewReader(sample())
	g, err := r.ReadValue(&Schema{Kind: KindStruct})
	if err != nil {
		t.Fatal(err)
	}
	want = `{#1=true, #2=-3, #3=-300, #4=70000, #5=-1099511627776, #6=2.5, #7="hello", #8={#1=9}, ` +
		`#9=["a", ""], #10=[7], #11=map{"k": 1}}`
	if got := g.String(); got != want {
		t.Fatalf("String:\n got %s\nwant %s", got, want)
	}
	odd := Value{Kind: KindBool, Int: 2}
	if got := odd.String(); got != "bool:2" {
		t.Fatalf("non-canonical bool = %s", got)
	}
}
