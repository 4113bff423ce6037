package mutation

import (
	"fmt"

	"github.com/dupbridge/dupbridge/thrift"
)

// Decode decodes the payload of a write of the given code into the typed
// model (cold path). Any wrapper field id is accepted and recorded; missing
// fields decode as zero/empty (Java omits null ones, storage.md §2.3); a
// known field with an unexpected type byte and unknown fields are skipped,
// as C++'s generated readers do. Byte slices alias payload. An empty write
// must have an empty payload (storage.md §1.8). Bytes after the wrapper's
// STOP are ignored.
func Decode(code Code, payload []byte) (*Update, error) {
	u := &Update{Code: code}
	if code == CodeWriteEmpty {
		if len(payload) != 0 {
			return nil, fmt.Errorf("mutation: decoding %s: %w: %d payload bytes, want none", code, ErrMalformed, len(payload))
		}
		return u, nil
	}
	if code == CodeUnknown || code > CodeWriteEmpty {
		return nil, fmt.Errorf("%w: decoding code %d", ErrUnknownCode, code)
	}
	if code == CodeDuplicate {
		return decodeDuplicate(u, payload)
	}
	d := decoder{r: thrift.NewReader(payload)}
	id, err := readWrapper(&d.r)
	if err != nil {
		return nil, malformed(code.Name(), err)
	}
	u.WrapperID = id
	switch code {
	case CodePut:
		u.Put = new(UpdateRequest)
		err = d.updateRequest(u.Put)
	case CodeRemove:
		u.RemoveKey, err = d.r.ReadBlob()
	case CodeMultiPut:
		u.MultiPut = new(MultiPutRequest)
		err = d.multiPut(u.MultiPut)
	case CodeMultiRemove:
		u.MultiRemove = new(MultiRemoveRequest)
		err = d.multiRemove(u.MultiRemove)
	case CodeIncr:
		u.Incr = new(IncrRequest)
		err = d.incr(u.Incr)
	case CodeCheckAndSet:
		u.CheckAndSet = new(CheckAndSetRequest)
		err = d.checkAndSet(u.CheckAndSet)
	case CodeCheckAndMutate:
		u.CheckAndMutate = new(CheckAndMutateRequest)
		err = d.checkAndMutate(u.CheckAndMutate)
	case CodeBulkLoad:
		u.BulkLoad = new(IngestionRequest)
		err = d.ingestion(u.BulkLoad)
	}
	if err == nil {
		err = d.r.ReadWrapperEnd()
	}
	if err != nil {
		return nil, malformed(code.Name(), err)
	}
	return u, nil
}

func decodeDuplicate(u *Update, payload []byte) (*Update, error) {
	it, err := NewDupIter(payload)
	if err != nil {
		return nil, err
	}
	req := &DuplicateRequest{Legacy: it.Legacy(), Entries: make([]DupEntry, 0, min(it.Len(), 256))}
	var e DupEntry
	for it.Next(&e) {
		req.Entries = append(req.Entries, e)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	u.WrapperID = it.WrapperID()
	u.Duplicate = req
	return u, nil
}

// decoder reads the request structs field by field.
type decoder struct {
	r thrift.Reader
}

// Typed field readers: each reads only when the wire type matches.

// field reads a value with read into *dst when the wire type is want;
// handled=false (skip it) otherwise.
func field[T any](typ, want thrift.Type, dst *T, read func() (T, error)) (bool, error) {
	if typ != want {
		return false, nil
	}
	v, err := read()
	*dst = v
	return true, err
}

func (d *decoder) blob(typ thrift.Type, dst *[]byte) (bool, error) {
	return field(typ, thrift.STRUCT, dst, d.r.ReadBlob)
}

func (d *decoder) i32(typ thrift.Type, dst *int32) (bool, error) {
	return field(typ, thrift.I32, dst, d.r.ReadI32)
}

func (d *decoder) i64(typ thrift.Type, dst *int64) (bool, error) {
	return field(typ, thrift.I64, dst, d.r.ReadI64)
}

func (d *decoder) boolean(typ thrift.Type, dst *bool) (bool, error) {
	return field(typ, thrift.BOOL, dst, d.r.ReadBool)
}

func (d *decoder) str(typ thrift.Type, dst *string) (bool, error) {
	var b []byte
	ok, err := field(typ, thrift.STRING, &b, d.r.ReadString)
	if ok {
		*dst = string(b)
	}
	return ok, err
}

// listOf reads a list (element type unchecked, as C++) into *dst, each
// element with read. handled=false when typ is not LIST.
func listOf[T any](d *decoder, typ thrift.Type, dst *[]T, read func(*T) error) (bool, error) {
	if typ != thrift.LIST {
		return false, nil
	}
	_, n, err := d.r.ReadListHeader()
	if err != nil {
		return true, err
	}
	*dst = make([]T, 0, min(n, 256))
	for i := 0; i < n; i++ {
		var v T
		if err := read(&v); err != nil {
			return true, err
		}
		*dst = append(*dst, v)
	}
	return true, nil
}

// blobElem reads one blob list element.
func (d *decoder) blobElem(dst *[]byte) (err error) {
	*dst, err = d.r.ReadBlob()
	return err
}

func (d *decoder) updateRequest(q *UpdateRequest) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return d.blob(typ, &q.Key)
		case 2:
			return d.blob(typ, &q.Value)
		case 3:
			return d.i32(typ, &q.ExpireTsSeconds)
		case 4:
			var v int32
			ok, err := d.i32(typ, &v)
			q.Type, q.HasType = UpdateType(v), ok
			return ok, err
		case 5:
			ok, err := d.boolean(typ, &q.CheckValueReturned)
			q.HasCheckValueReturned = ok
			return ok, err
		case 6:
			ok, err := d.boolean(typ, &q.CheckValueExist)
			q.HasCheckValueExist = ok
			return ok, err
		case 7:
			ok, err := d.blob(typ, &q.CheckValue)
			q.HasCheckValue = ok
			return ok, err
		}
		return false, nil
	})
}

func (d *decoder) keyValue(kv *KeyValue) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return d.blob(typ, &kv.Key)
		case 2:
			return d.blob(typ, &kv.Value)
		case 3:
			ok, err := d.i32(typ, &kv.ExpireTsSeconds)
			kv.HasExpireTsSeconds = ok
			return ok, err
		}
		return false, nil
	})
}

func (d *decoder) multiPut(q *MultiPutRequest) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return d.blob(typ, &q.HashKey)
		case 2:
			return listOf(d, typ, &q.Kvs, d.keyValue)
		case 3:
			return d.i32(typ, &q.ExpireTsSeconds)
		}
		return false, nil
	})
}

func (d *decoder) multiRemove(q *MultiRemoveRequest) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return d.blob(typ, &q.HashKey)
		case 2:
			return listOf(d, typ, &q.SortKeys, d.blobElem)
		case 3:
			return d.i64(typ, &q.MaxCount)
		}
		return false, nil
	})
}

func (d *decoder) incr(q *IncrRequest) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return d.blob(typ, &q.Key)
		case 2:
			return d.i64(typ, &q.Increment)
		case 3:
			return d.i32(typ, &q.ExpireTsSeconds)
		}
		return false, nil
	})
}

func (d *decoder) checkAndSet(q *CheckAndSetRequest) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return d.blob(typ, &q.HashKey)
		case 2:
			return d.blob(typ, &q.CheckSortKey)
		case 3:
			return d.i32(typ, (*int32)(&q.CheckType))
		case 4:
			return d.blob(typ, &q.CheckOperand)
		case 5:
			return d.boolean(typ, &q.SetDiffSortKey)
		case 6:
			return d.blob(typ, &q.SetSortKey)
		case 7:
			return d.blob(typ, &q.SetValue)
		case 8:
			return d.i32(typ, &q.SetExpireTsSeconds)
		case 9:
			return d.boolean(typ, &q.ReturnCheckValue)
		}
		return false, nil
	})
}

func (d *decoder) mutate(m *Mutate) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return d.i32(typ, (*int32)(&m.Operation))
		case 2:
			return d.blob(typ, &m.SortKey)
		case 3:
			return d.blob(typ, &m.Value)
		case 4:
			return d.i32(typ, &m.SetExpireTsSeconds)
		}
		return false, nil
	})
}

func (d *decoder) checkAndMutate(q *CheckAndMutateRequest) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return d.blob(typ, &q.HashKey)
		case 2:
			return d.blob(typ, &q.CheckSortKey)
		case 3:
			return d.i32(typ, (*int32)(&q.CheckType))
		case 4:
			return d.blob(typ, &q.CheckOperand)
		case 5:
			return listOf(d, typ, &q.MutateList, d.mutate)
		case 6:
			return d.boolean(typ, &q.ReturnCheckValue)
		}
		return false, nil
	})
}

func (d *decoder) fileMeta(f *FileMeta) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return d.str(typ, &f.Name)
		case 2:
			return d.i64(typ, &f.Size)
		case 3:
			return d.str(typ, &f.MD5)
		}
		return false, nil
	})
}

func (d *decoder) bulkLoadMetadata(m *BulkLoadMetadata) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return listOf(d, typ, &m.Files, d.fileMeta)
		case 2:
			return d.i64(typ, &m.FileTotalSize)
		}
		return false, nil
	})
}

func (d *decoder) ingestion(q *IngestionRequest) error {
	return d.r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		switch id {
		case 1:
			return d.str(typ, &q.AppName)
		case 2:
			if typ != thrift.STRUCT {
				return false, nil
			}
			return true, d.bulkLoadMetadata(&q.Metadata)
		case 3:
			return d.boolean(typ, &q.IngestBehind)
		case 4:
			return d.i64(typ, &q.Ballot)
		case 5:
			return d.boolean(typ, &q.VerifyBeforeIngest)
		}
		return false, nil
	})
}
