package mutation

import (
	"fmt"

	"github.com/dupbridge/dupbridge/thrift"
)

// Encoders append a whole payload: the one-field wrapper (field id
// wrapperID: 0 as C++ and RDSN write it, 1 as THFT args) around the request
// (storage.md §2.2, §2.3). Non-optional fields are always written, as C++
// and Go do; optional ones only when their Has* flag is set. Blob fields use
// the STRUCT type byte (storage.md §2.1).

// AppendPut appends a PUT payload with the three fields every client writes.
func AppendPut(dst []byte, wrapperID int16, key, value []byte, expireTs int32) []byte {
	r := UpdateRequest{Key: key, Value: value, ExpireTsSeconds: expireTs}
	return AppendUpdateRequest(dst, wrapperID, &r)
}

// AppendUpdateRequest appends a PUT payload with every field of r.
func AppendUpdateRequest(dst []byte, wrapperID int16, r *UpdateRequest) []byte {
	w := begin(dst, wrapperID)
	blobField(&w, 1, r.Key)
	blobField(&w, 2, r.Value)
	i32Field(&w, 3, r.ExpireTsSeconds)
	if r.HasType {
		i32Field(&w, 4, int32(r.Type))
	}
	if r.HasCheckValueReturned {
		boolField(&w, 5, r.CheckValueReturned)
	}
	if r.HasCheckValueExist {
		boolField(&w, 6, r.CheckValueExist)
	}
	if r.HasCheckValue {
		blobField(&w, 7, r.CheckValue)
	}
	return end(&w)
}

// AppendRemove appends a REMOVE payload: the wrapper around the bare raw-key
// blob (storage.md §2.3). It has no STOP of its own.
func AppendRemove(dst []byte, wrapperID int16, rawKey []byte) []byte {
	w := thrift.Writer{B: dst}
	w.WrapperBegin(thrift.STRUCT, wrapperID)
	w.Blob(rawKey)
	w.WrapperEnd()
	return w.B
}

// AppendMultiPut appends a MULTI_PUT payload.
func AppendMultiPut(dst []byte, wrapperID int16, r *MultiPutRequest) []byte {
	w := begin(dst, wrapperID)
	blobField(&w, 1, r.HashKey)
	w.FieldHeader(thrift.LIST, 2)
	w.ListHeader(thrift.STRUCT, len(r.Kvs))
	for i := range r.Kvs {
		kv := &r.Kvs[i]
		blobField(&w, 1, kv.Key)
		blobField(&w, 2, kv.Value)
		if kv.HasExpireTsSeconds {
			i32Field(&w, 3, kv.ExpireTsSeconds)
		}
		w.Stop()
	}
	i32Field(&w, 3, r.ExpireTsSeconds)
	return end(&w)
}

// AppendMultiRemove appends a MULTI_REMOVE payload.
func AppendMultiRemove(dst []byte, wrapperID int16, r *MultiRemoveRequest) []byte {
	w := begin(dst, wrapperID)
	blobField(&w, 1, r.HashKey)
	w.FieldHeader(thrift.LIST, 2)
	w.ListHeader(thrift.STRUCT, len(r.SortKeys))
	for _, sk := range r.SortKeys {
		w.Blob(sk)
	}
	i64Field(&w, 3, r.MaxCount)
	return end(&w)
}

// AppendIncr appends an INCR payload.
func AppendIncr(dst []byte, wrapperID int16, r *IncrRequest) []byte {
	w := begin(dst, wrapperID)
	blobField(&w, 1, r.Key)
	i64Field(&w, 2, r.Increment)
	i32Field(&w, 3, r.ExpireTsSeconds)
	return end(&w)
}

// AppendCheckAndSet appends a CHECK_AND_SET payload.
func AppendCheckAndSet(dst []byte, wrapperID int16, r *CheckAndSetRequest) []byte {
	w := begin(dst, wrapperID)
	blobField(&w, 1, r.HashKey)
	blobField(&w, 2, r.CheckSortKey)
	i32Field(&w, 3, int32(r.CheckType))
	blobField(&w, 4, r.CheckOperand)
	boolField(&w, 5, r.SetDiffSortKey)
	blobField(&w, 6, r.SetSortKey)
	blobField(&w, 7, r.SetValue)
	i32Field(&w, 8, r.SetExpireTsSeconds)
	boolField(&w, 9, r.ReturnCheckValue)
	return end(&w)
}

// AppendCheckAndMutate appends a CHECK_AND_MUTATE payload.
func AppendCheckAndMutate(dst []byte, wrapperID int16, r *CheckAndMutateRequest) []byte {
	w := begin(dst, wrapperID)
	blobField(&w, 1, r.HashKey)
	blobField(&w, 2, r.CheckSortKey)
	i32Field(&w, 3, int32(r.CheckType))
	blobField(&w, 4, r.CheckOperand)
	w.FieldHeader(thrift.LIST, 5)
	w.ListHeader(thrift.STRUCT, len(r.MutateList))
	for i := range r.MutateList {
		m := &r.MutateList[i]
		i32Field(&w, 1, int32(m.Operation))
		blobField(&w, 2, m.SortKey)
		blobField(&w, 3, m.Value)
		i32Field(&w, 4, m.SetExpireTsSeconds)
		w.Stop()
	}
	boolField(&w, 6, r.ReturnCheckValue)
	return end(&w)
}

// AppendDuplicate appends a DUPLICATE payload from the entries' fields
// (DupRequestWriter.AppendEntry rules); Legacy requests must hold exactly
// one entry and are written in the ≤ v2.3 shape.
func AppendDuplicate(dst []byte, wrapperID int16, r *DuplicateRequest) ([]byte, error) {
	if r.Legacy {
		if len(r.Entries) != 1 {
			return dst, fmt.Errorf("mutation: legacy duplicate_request needs 1 entry, has %d", len(r.Entries))
		}
		return AppendDupLegacy(dst, wrapperID, &r.Entries[0]), nil
	}
	var d DupRequestWriter
	d.Begin(dst, wrapperID)
	for i := range r.Entries {
		d.AppendEntry(&r.Entries[i])
	}
	return d.Finish(), nil
}

// AppendBulkLoad appends a BULK_LOAD payload (ingestion_request).
func AppendBulkLoad(dst []byte, wrapperID int16, r *IngestionRequest) []byte {
	w := begin(dst, wrapperID)
	stringField(&w, 1, r.AppName)
	w.FieldHeader(thrift.STRUCT, 2)
	w.FieldHeader(thrift.LIST, 1)
	w.ListHeader(thrift.STRUCT, len(r.Metadata.Files))
	for i := range r.Metadata.Files {
		f := &r.Metadata.Files[i]
		stringField(&w, 1, f.Name)
		i64Field(&w, 2, f.Size)
		stringField(&w, 3, f.MD5)
		w.Stop()
	}
	i64Field(&w, 2, r.Metadata.FileTotalSize)
	w.Stop()
	boolField(&w, 3, r.IngestBehind)
	i64Field(&w, 4, r.Ballot)
	boolField(&w, 5, r.VerifyBeforeIngest)
	return end(&w)
}

// Encode appends the payload of u (the field matching u.Code) with the
// given wrapper id; an empty write has no payload (storage.md §1.8).
func Encode(dst []byte, wrapperID int16, u *Update) ([]byte, error) {
	missing := func() ([]byte, error) {
		return dst, fmt.Errorf("mutation: encoding %s: request not set", u.Code)
	}
	switch u.Code {
	case CodePut:
		if u.Put == nil {
			return missing()
		}
		return AppendUpdateRequest(dst, wrapperID, u.Put), nil
	case CodeRemove:
		return AppendRemove(dst, wrapperID, u.RemoveKey), nil
	case CodeMultiPut:
		if u.MultiPut == nil {
			return missing()
		}
		return AppendMultiPut(dst, wrapperID, u.MultiPut), nil
	case CodeMultiRemove:
		if u.MultiRemove == nil {
			return missing()
		}
		return AppendMultiRemove(dst, wrapperID, u.MultiRemove), nil
	case CodeIncr:
		if u.Incr == nil {
			return missing()
		}
		return AppendIncr(dst, wrapperID, u.Incr), nil
	case CodeCheckAndSet:
		if u.CheckAndSet == nil {
			return missing()
		}
		return AppendCheckAndSet(dst, wrapperID, u.CheckAndSet), nil
	case CodeCheckAndMutate:
		if u.CheckAndMutate == nil {
			return missing()
		}
		return AppendCheckAndMutate(dst, wrapperID, u.CheckAndMutate), nil
	case CodeDuplicate:
		if u.Duplicate == nil {
			return missing()
		}
		return AppendDuplicate(dst, wrapperID, u.Duplicate)
	case CodeBulkLoad:
		if u.BulkLoad == nil {
			return missing()
		}
		return AppendBulkLoad(dst, wrapperID, u.BulkLoad), nil
	case CodeWriteEmpty:
		return dst, nil
	}
	return dst, fmt.Errorf("%w: encoding %s", ErrUnknownCode, u.Code)
}

func begin(dst []byte, wrapperID int16) thrift.Writer {
	w := thrift.Writer{B: dst}
	w.WrapperBegin(thrift.STRUCT, wrapperID)
	return w
}

// end closes the request struct and the wrapper.
func end(w *thrift.Writer) []byte {
	w.Stop()
	w.WrapperEnd()
	return w.B
}

func blobField(w *thrift.Writer, id int16, v []byte) {
	w.FieldHeader(thrift.STRUCT, id)
	w.Blob(v)
}

func i32Field(w *thrift.Writer, id int16, v int32) {
	w.FieldHeader(thrift.I32, id)
	w.I32(v)
}

func i64Field(w *thrift.Writer, id int16, v int64) {
	w.FieldHeader(thrift.I64, id)
	w.I64(v)
}

func stringField(w *thrift.Writer, id int16, v string) {
	w.FieldHeader(thrift.STRING, id)
	w.String(v)
}

func boolField(w *thrift.Writer, id int16, v bool) {
	w.FieldHeader(thrift.BOOL, id)
	w.Bool(v)
}
