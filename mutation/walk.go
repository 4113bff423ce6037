package mutation

import (
	"fmt"

	"github.com/dupbridge/dupbridge/thrift"
)

// The schema-driven walker validates a request without building it: the hot
// path's way to check a payload before forwarding it, allocation-free. It
// must know the schemas because a generic thrift skip mis-reads the
// STRUCT-typed blobs of rDSN (storage.md §2.1, wire.md §3).
//
// Like C++'s generated readers, a known field whose type byte is not the
// expected one is skipped generically, list element type bytes are not
// checked (elements are read by schema), and unknown fields are skipped
// generically.

type schema uint8

const (
	sNone schema = iota
	sUpdateRequest
	sKeyValue
	sMultiPut
	sMultiRemove
	sIncr
	sCheckAndSet
	sCheckAndMutate
	sMutate
)

type kind uint8

const (
	kUnknown    kind = iota // skip generically
	kPlain                  // a plain value of the wire type: skip generically
	kBlob                   // STRUCT type byte, binary payload
	kListBlob               // list of blobs
	kListStruct             // list of structs of sub
)

// fieldKind is the schema table: the wire type, kind and sub-schema of
// field id of s (storage.md §2.3).
func fieldKind(s schema, id int16) (thrift.Type, kind, schema) {
	switch s {
	case sUpdateRequest:
		switch id {
		case 1, 2, 7:
			return thrift.STRUCT, kBlob, sNone
		case 3, 4:
			return thrift.I32, kPlain, sNone
		case 5, 6:
			return thrift.BOOL, kPlain, sNone
		}
	case sKeyValue:
		switch id {
		case 1, 2:
			return thrift.STRUCT, kBlob, sNone
		case 3:
			return thrift.I32, kPlain, sNone
		}
	case sMultiPut:
		switch id {
		case 1:
			return thrift.STRUCT, kBlob, sNone
		case 2:
			return thrift.LIST, kListStruct, sKeyValue
		case 3:
			return thrift.I32, kPlain, sNone
		}
	case sMultiRemove:
		switch id {
		case 1:
			return thrift.STRUCT, kBlob, sNone
		case 2:
			return thrift.LIST, kListBlob, sNone
		case 3:
			return thrift.I64, kPlain, sNone
		}
	case sIncr:
		switch id {
		case 1:
			return thrift.STRUCT, kBlob, sNone
		case 2:
			return thrift.I64, kPlain, sNone
		case 3:
			return thrift.I32, kPlain, sNone
		}
	case sCheckAndSet:
		switch id {
		case 1, 2, 4, 6, 7:
			return thrift.STRUCT, kBlob, sNone
		case 3, 8:
			return thrift.I32, kPlain, sNone
		case 5, 9:
			return thrift.BOOL, kPlain, sNone
		}
	case sCheckAndMutate:
		switch id {
		case 1, 2, 4:
			return thrift.STRUCT, kBlob, sNone
		case 3:
			return thrift.I32, kPlain, sNone
		case 5:
			return thrift.LIST, kListStruct, sMutate
		case 6:
			return thrift.BOOL, kPlain, sNone
		}
	case sMutate:
		switch id {
		case 1, 4:
			return thrift.I32, kPlain, sNone
		case 2, 3:
			return thrift.STRUCT, kBlob, sNone
		}
	}
	return 0, kUnknown, sNone
}

// walkStruct validates one struct of schema s, up to and including its
// STOP. When first is not nil it receives the blob of field 1 (the key or
// hash key of every routed request).
func walkStruct(r *thrift.Reader, s schema, first *[]byte) error {
	for {
		typ, id, err := r.ReadFieldHeader()
		if err != nil {
			return err
		}
		if typ == thrift.STOP {
			return nil
		}
		want, k, sub := fieldKind(s, id)
		if k == kUnknown || typ != want || k == kPlain {
			if err := r.Skip(typ); err != nil {
				return err
			}
			continue
		}
		switch k {
		case kBlob:
			b, err := r.ReadBlob()
			if err != nil {
				return err
			}
			if id == 1 && first != nil {
				*first = b
			}
		case kListBlob:
			_, n, err := r.ReadListHeader()
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				if _, err := r.ReadBlob(); err != nil {
					return err
				}
			}
		case kListStruct:
			_, n, err := r.ReadListHeader()
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				if err := walkStruct(r, sub, nil); err != nil {
					return err
				}
			}
		}
	}
}

// readWrapper reads the outer wrapper header; its type byte is always STRUCT
// (storage.md §2.2).
func readWrapper(r *thrift.Reader) (int16, error) {
	typ, id, err := r.ReadWrapperBegin()
	if err != nil {
		return 0, err
	}
	if typ != thrift.STRUCT {
		return 0, &thrift.Error{Op: "wrapper type " + typ.String(), Offset: r.Pos() - 3, Err: thrift.ErrBadType}
	}
	return id, nil
}

// malformed wraps a thrift decode error with the error class and context.
func malformed(what string, err error) error {
	return fmt.Errorf("mutation: decoding %s: %w (%w)", what, ErrMalformed, err)
}
