// Package schema derives thrift.StructSchema descriptions (field id → kind,
// including rDSN's special types) from the generated structs under idl/gen,
// so that thrift.Reader.SkipSchema, SkipField and ReadValue can handle
// fields a hand-written decoder does not know (wire.md §3).
//
// The description comes from the generated code itself (its `thrift:"name,id"`
// tags, Go field types and `omitempty` for optional fields), so it cannot
// drift from the IDL. Derivation uses reflection: do it once, outside hot
// loops, and keep the result (schemas are read-only and shareable).
package schema

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/dupbridge/dupbridge/idl/base"
	"github.com/dupbridge/dupbridge/thrift"
)

// ErrUnsupported: a generated field type this package cannot describe.
var ErrUnsupported = errors.New("schema: unsupported field type")

// Of returns the schema of the generated struct v points to (for example
// &rrdb.UpdateRequest{}). Go slices are described as lists: the IDL here has
// no sets.
func Of(v any) (*thrift.StructSchema, error) {
	t := reflect.TypeOf(v)
	if t == nil {
		return nil, fmt.Errorf("schema: nil value: %w", ErrUnsupported)
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("schema: %s is not a struct: %w", t, ErrUnsupported)
	}
	d := deriver{seen: map[reflect.Type]*thrift.StructSchema{}}
	return d.structOf(t)
}

// TypeOf returns the top-level Schema (KindStruct) of v; see Of.
func TypeOf(v any) (*thrift.Schema, error) {
	st, err := Of(v)
	if err != nil {
		return nil, err
	}
	return thrift.SchemaOf(st), nil
}

type deriver struct {
	seen map[reflect.Type]*thrift.StructSchema
}

func (d *deriver) structOf(t reflect.Type) (*thrift.StructSchema, error) {
	if s, ok := d.seen[t]; ok {
		return s, nil
	}
	s := &thrift.StructSchema{Name: t.Name()}
	d.seen[t] = s
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("thrift")
		if !ok {
			continue
		}
		name, idStr, ok := strings.Cut(tag, ",")
		if !ok {
			return nil, fmt.Errorf("schema: %s.%s: bad thrift tag %q: %w", t.Name(), sf.Name, tag, ErrUnsupported)
		}
		id, err := strconv.ParseInt(strings.Split(idStr, ",")[0], 10, 16)
		if err != nil {
			return nil, fmt.Errorf("schema: %s.%s: bad field id in %q: %w", t.Name(), sf.Name, tag, ErrUnsupported)
		}
		optional := strings.Contains(sf.Tag.Get("json"), ",omitempty")
		ft := sf.Type
		if optional && ft.Kind() == reflect.Pointer && !isStruct(ft.Elem()) {
			ft = ft.Elem() // optional primitive: *int32 and the like
		}
		ts, err := d.typeOf(ft)
		if err != nil {
			return nil, fmt.Errorf("schema: %s.%s: %w", t.Name(), sf.Name, err)
		}
		s.Fields = append(s.Fields, thrift.FieldSchema{ID: int16(id), Name: name, Optional: optional, Type: *ts})
	}
	return s, nil
}

func isStruct(t reflect.Type) bool { return t.Kind() == reflect.Struct }

func (d *deriver) typeOf(t reflect.Type) (*thrift.Schema, error) {
	if t.Kind() == reflect.Pointer && isStruct(t.Elem()) {
		switch e := t.Elem(); e {
		case reflect.TypeFor[base.Blob]():
			return &thrift.Schema{Kind: thrift.KindBlob}, nil
		case reflect.TypeFor[base.ErrorCode]():
			return &thrift.Schema{Kind: thrift.KindErrorCode}, nil
		case reflect.TypeFor[base.TaskCode]():
			return &thrift.Schema{Kind: thrift.KindTaskCode}, nil
		case reflect.TypeFor[base.Gpid]():
			return &thrift.Schema{Kind: thrift.KindGpid}, nil
		case reflect.TypeFor[base.RPCAddress]():
			return &thrift.Schema{Kind: thrift.KindRPCAddress}, nil
		case reflect.TypeFor[base.HostPort]():
			return &thrift.Schema{Kind: thrift.KindHostPort}, nil
		default:
			st, err := d.structOf(e)
			if err != nil {
				return nil, err
			}
			return thrift.SchemaOf(st), nil
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return &thrift.Schema{Kind: thrift.KindBool}, nil
	case reflect.Int8:
		return &thrift.Schema{Kind: thrift.KindI8}, nil
	case reflect.Int16:
		return &thrift.Schema{Kind: thrift.KindI16}, nil
	case reflect.Int32:
		return &thrift.Schema{Kind: thrift.KindI32}, nil
	case reflect.Int64:
		// Generated enums are named int64 types but travel as i32.
		if t.PkgPath() != "" {
			return &thrift.Schema{Kind: thrift.KindI32}, nil
		}
		return &thrift.Schema{Kind: thrift.KindI64}, nil
	case reflect.Float64:
		return &thrift.Schema{Kind: thrift.KindDouble}, nil
	case reflect.String:
		return &thrift.Schema{Kind: thrift.KindBinary}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return &thrift.Schema{Kind: thrift.KindBinary}, nil
		}
		e, err := d.typeOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return &thrift.Schema{Kind: thrift.KindList, Elem: e}, nil
	case reflect.Map:
		k, err := d.typeOf(t.Key())
		if err != nil {
			return nil, err
		}
		v, err := d.typeOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return &thrift.Schema{Kind: thrift.KindMap, Key: k, Elem: v}, nil
	}
	return nil, fmt.Errorf("%s: %w", t, ErrUnsupported)
}
