package thrift_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/dupbridge/dupbridge/idl/base"
	"github.com/dupbridge/dupbridge/idl/gen/checkpoint"
	"github.com/dupbridge/dupbridge/idl/gen/meta"
	"github.com/dupbridge/dupbridge/idl/gen/rrdb"
	"github.com/dupbridge/dupbridge/idl/schema"
	"github.com/dupbridge/dupbridge/thrift"
)

// generatedStruct is a generated type that can Read, Write and compare.
type generatedStruct interface {
	athrift.TStruct
}

// propertyTypes lists the structs the property tests cover: the ones the
// issue names first, then the rest of the IDL's RPC structs.
func propertyTypes() []func() generatedStruct {
	return []func() generatedStruct{
		func() generatedStruct { return rrdb.NewUpdateRequest() },
		func() generatedStruct { return rrdb.NewMultiPutRequest() },
		func() generatedStruct { return rrdb.NewMultiRemoveRequest() },
		func() generatedStruct { return rrdb.NewDuplicateRequest() },
		func() generatedStruct { return rrdb.NewDuplicateEntry() },
		func() generatedStruct { return rrdb.NewDuplicateResponse() },
		func() generatedStruct { return meta.NewPartitionConfiguration() },
		func() generatedStruct { return meta.NewQueryCfgResponse() },
		func() generatedStruct { return meta.NewQueryCfgRequest() },
		func() generatedStruct { return meta.NewMetaQueryCfgResult() },
		func() generatedStruct { return meta.NewConfigurationCreateAppRequest() },
		func() generatedStruct { return meta.NewConfigurationCreateAppResponse() },
		func() generatedStruct { return meta.NewConfigurationDropAppRequest() },
		func() generatedStruct { return meta.NewConfigurationListAppsRequest() },
		func() generatedStruct { return meta.NewConfigurationListAppsResponse() },
		func() generatedStruct { return rrdb.NewUpdateResponse() },
		func() generatedStruct { return rrdb.NewReadResponse() },
		func() generatedStruct { return rrdb.NewMultiGetRequest() },
		func() generatedStruct { return rrdb.NewMultiGetResponse() },
		func() generatedStruct { return rrdb.NewBatchGetRequest() },
		func() generatedStruct { return rrdb.NewBatchGetResponse() },
		func() generatedStruct { return rrdb.NewIncrRequest() },
		func() generatedStruct { return rrdb.NewCheckAndSetRequest() },
		func() generatedStruct { return rrdb.NewCheckAndSetResponse() },
		func() generatedStruct { return rrdb.NewCheckAndMutateRequest() },
		func() generatedStruct { return rrdb.NewGetScannerRequest() },
		func() generatedStruct { return rrdb.NewScanResponse() },
		func() generatedStruct { return rrdb.NewMultiRemoveResponse() },
		func() generatedStruct { return rrdb.NewRrdbRemoveArgs() },
		func() generatedStruct { return checkpoint.NewLearnRequest() },
		func() generatedStruct { return checkpoint.NewLearnResponse() },
		func() generatedStruct { return checkpoint.NewGetFileSizeRequest() },
		func() generatedStruct { return checkpoint.NewGetFileSizeResponse() },
		func() generatedStruct { return checkpoint.NewCopyRequest() },
		func() generatedStruct { return checkpoint.NewCopyResponse() },
	}
}

func genEncode(t testing.TB, s athrift.TStruct) []byte {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	if err := s.Write(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil)); err != nil {
		t.Fatalf("generated encode %T: %v", s, err)
	}
	return buf.Bytes()
}

func genDecode(s athrift.TStruct, b []byte) (left int, err error) {
	buf := athrift.NewTMemoryBuffer()
	buf.Write(b)
	err = s.Read(context.Background(), athrift.NewTBinaryProtocolConf(buf, nil))
	return buf.Len(), err
}

func iterations() int {
	if testing.Short() {
		return 30
	}
	return 300
}

// Generated code encodes a random value; our reader decodes it (schema
// driven), our writer re-encodes it byte for byte, and the generated code
// decodes our bytes back to an equal value.
func TestPropertyGeneratedToOurs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, mk := range propertyTypes() {
		proto := mk()
		name := reflect.TypeOf(proto).Elem().Name()
		s, err := schema.TypeOf(proto)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			for i := 0; i < iterations(); i++ {
				orig := mk()
				fillRandom(rng, reflect.ValueOf(orig).Elem(), 0)
				a := genEncode(t, orig)

				r := thrift.NewReader(a)
				if err := r.SkipSchema(s); err != nil || r.Remaining() != 0 {
					t.Fatalf("SkipSchema: %v, %d left of % x", err, r.Remaining(), a)
				}
				r = thrift.NewReader(a)
				v, err := r.ReadValue(s)
				if err != nil || r.Remaining() != 0 {
					t.Fatalf("ReadValue: %v, %d left of % x", err, r.Remaining(), a)
				}
				var w thrift.Writer
				if err := w.Value(&v); err != nil {
					t.Fatalf("Writer.Value: %v", err)
				}
				if !bytes.Equal(w.B, a) {
					t.Fatalf("our re-encoding differs:\n ours % x\n  gen % x", w.B, a)
				}
				back := mk()
				if left, err := genDecode(back, w.B); err != nil || left != 0 {
					t.Fatalf("generated decode of ours: %v, %d left", err, left)
				}
				if !equalsGen(back, orig) {
					t.Fatalf("round trip differs:\n got %v\nwant %v", back, orig)
				}
			}
		})
	}
}

// Our writer encodes a random schema-shaped value; the generated code
// decodes it and re-encodes byte for byte; our reader decodes that to an
// equal value.
func TestPropertyOursToGenerated(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, mk := range propertyTypes() {
		proto := mk()
		name := reflect.TypeOf(proto).Elem().Name()
		s, err := schema.TypeOf(proto)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			for i := 0; i < iterations(); i++ {
				v := randomValue(rng, s, 0)
				var w thrift.Writer
				if err := w.Value(&v); err != nil {
					t.Fatalf("Writer.Value: %v", err)
				}
				g := mk()
				if left, err := genDecode(g, w.B); err != nil || left != 0 {
					t.Fatalf("generated decode: %v, %d left of % x", err, left, w.B)
				}
				b := genEncode(t, g)
				if !bytes.Equal(b, w.B) {
					t.Fatalf("generated re-encoding differs:\n  gen % x\n ours % x", b, w.B)
				}
				r := thrift.NewReader(b)
				back, err := r.ReadValue(s)
				if err != nil || r.Remaining() != 0 {
					t.Fatalf("ReadValue: %v", err)
				}
				if !back.Equal(&v) {
					t.Fatalf("value round trip differs")
				}
			}
		})
	}
}

func equalsGen(a, b generatedStruct) bool {
	m := reflect.ValueOf(a).MethodByName("Equals")
	if !m.IsValid() {
		return reflect.DeepEqual(a, b)
	}
	return m.Call([]reflect.Value{reflect.ValueOf(b)})[0].Bool()
}

func randBytes(rng *rand.Rand, max int) []byte {
	b := make([]byte, rng.IntN(max+1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func randString(rng *rand.Rand) string {
	return string(randBytes(rng, 12))
}

// fillRandom fills a generated struct through reflection. Optional fields
// are set half of the time; maps get at most one entry, because generated
// code writes maps in Go's random iteration order.
func fillRandom(rng *rand.Rand, v reflect.Value, depth int) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if _, ok := sf.Tag.Lookup("thrift"); !ok {
			continue
		}
		optional := strings.Contains(sf.Tag.Get("json"), ",omitempty")
		if optional && rng.IntN(2) == 0 {
			continue
		}
		f := v.Field(i)
		if optional && f.Kind() == reflect.Pointer && f.Type().Elem().Kind() != reflect.Struct {
			p := reflect.New(f.Type().Elem())
			randomLeaf(rng, p.Elem(), depth)
			f.Set(p)
			continue
		}
		randomLeaf(rng, f, depth)
	}
}

func randomLeaf(rng *rand.Rand, f reflect.Value, depth int) {
	switch f.Kind() {
	case reflect.Bool:
		f.SetBool(rng.IntN(2) == 1)
	case reflect.Int8, reflect.Int16, reflect.Int32:
		f.SetInt(int64(rng.Uint64()) >> (64 - f.Type().Bits()))
	case reflect.Int64:
		if f.Type().PkgPath() != "" { // enum: travels as i32
			f.SetInt(int64(int32(rng.Uint32())))
		} else {
			f.SetInt(int64(rng.Uint64()))
		}
	case reflect.String:
		f.SetString(randString(rng))
	case reflect.Slice:
		if f.Type().Elem().Kind() == reflect.Uint8 {
			f.SetBytes(randBytes(rng, 8))
			return
		}
		n := rng.IntN(4)
		if depth > 2 {
			n = 0
		}
		s := reflect.MakeSlice(f.Type(), n, n)
		for i := 0; i < n; i++ {
			randomLeaf(rng, s.Index(i), depth+1)
		}
		f.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(f.Type())
		if rng.IntN(2) == 0 {
			k := reflect.New(f.Type().Key()).Elem()
			e := reflect.New(f.Type().Elem()).Elem()
			randomLeaf(rng, k, depth+1)
			randomLeaf(rng, e, depth+1)
			m.SetMapIndex(k, e)
		}
		f.Set(m)
	case reflect.Pointer:
		p := reflect.New(f.Type().Elem())
		switch x := p.Interface().(type) {
		case *base.Blob:
			x.Data = randBytes(rng, 10)
		case *base.ErrorCode:
			x.Errno = randString(rng)
		case *base.TaskCode:
			x.Code = randString(rng)
		case *base.Gpid:
			x.Appid, x.PartitionIndex = int32(rng.Uint32()), int32(rng.Uint32())
		case *base.RPCAddress:
			x.Address = rng.Uint64()&^3 | uint64(rng.IntN(2))
		case *base.HostPort:
			x.Host, x.Port, x.Type = randString(rng), uint16(rng.Uint32()), int8(rng.IntN(2))
		default:
			fillRandom(rng, p.Elem(), depth+1)
		}
		f.Set(p)
	default:
		panic(fmt.Sprintf("fillRandom: unhandled %s", f.Type()))
	}
}

// randomValue builds a value of schema s the way a C++ or generated writer
// would: every non-optional field present, in schema order; optional fields
// present half of the time; maps with at most one entry.
func randomValue(rng *rand.Rand, s *thrift.Schema, depth int) thrift.Value {
	v := thrift.Value{Kind: s.Kind}
	switch s.Kind {
	case thrift.KindBool:
		v.Int = int64(rng.IntN(2))
	case thrift.KindI8:
		v.Int = int64(int8(rng.Uint32()))
	case thrift.KindI16:
		v.Int = int64(int16(rng.Uint32()))
	case thrift.KindI32:
		v.Int = int64(int32(rng.Uint32()))
	case thrift.KindI64, thrift.KindGpid:
		v.Int = int64(rng.Uint64())
	case thrift.KindDouble:
		v.Int = int64(rng.Uint64() >> 2) // finite, non-NaN
	case thrift.KindRPCAddress:
		v.Int = int64(rng.Uint64()&^3 | uint64(rng.IntN(2)))
	case thrift.KindBinary, thrift.KindBlob, thrift.KindErrorCode, thrift.KindTaskCode:
		v.Bytes = randBytes(rng, 10)
	case thrift.KindHostPort:
		v.Bytes, v.Int, v.HPType = randBytes(rng, 10), int64(uint16(rng.Uint32())), int8(rng.IntN(2))
	case thrift.KindStruct:
		for i := range s.Struct.Fields {
			f := &s.Struct.Fields[i]
			if f.Optional && rng.IntN(2) == 0 {
				continue
			}
			v.Fields = append(v.Fields, thrift.FieldValue{ID: f.ID, Value: randomValue(rng, &f.Type, depth+1)})
		}
	case thrift.KindList, thrift.KindSet:
		v.ElemType = s.Elem.Kind.WireType()
		n := rng.IntN(4)
		if depth > 3 {
			n = 0
		}
		for i := 0; i < n; i++ {
			v.Elems = append(v.Elems, randomValue(rng, s.Elem, depth+1))
		}
	case thrift.KindMap:
		v.KeyType, v.ElemType = s.Key.Kind.WireType(), s.Elem.Kind.WireType()
		if rng.IntN(2) == 0 {
			v.Elems = append(v.Elems, randomValue(rng, s.Key, depth+1), randomValue(rng, s.Elem, depth+1))
		}
	}
	return v
}
