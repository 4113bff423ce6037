package mutation

import (
	"fmt"

	"github.com/dupbridge/dupbridge/thrift"
)

// PayloadHash is the routing hash of a write payload (hot path, zero
// allocations when it succeeds): PUT, REMOVE, INCR → KeyHash of the raw
// key; MULTI_PUT, MULTI_REMOVE, CHECK_AND_SET, CHECK_AND_MUTATE →
// HashKeyHash of the hash key (wire.md §6.1); DUPLICATE → the hash of its
// last entry (wire.md §4.6). The whole payload is walked and validated, so
// a nil error also means the payload is well formed. An empty write,
// BULK_LOAD and a duplicate_request without entries give ErrNotRoutable;
// a missing or invalid raw key gives ErrBadKey.
func PayloadHash(code Code, payload []byte) (uint64, error) {
	var s schema
	byKey := false
	switch code {
	case CodePut:
		s, byKey = sUpdateRequest, true
	case CodeIncr:
		s, byKey = sIncr, true
	case CodeMultiPut:
		s = sMultiPut
	case CodeMultiRemove:
		s = sMultiRemove
	case CodeCheckAndSet:
		s = sCheckAndSet
	case CodeCheckAndMutate:
		s = sCheckAndMutate
	case CodeRemove:
		return removeHash(payload)
	case CodeDuplicate:
		return dupHash(payload)
	case CodeWriteEmpty, CodeBulkLoad:
		return 0, errNotRoutable
	default:
		return 0, errUnknownCode
	}
	r := thrift.NewReader(payload)
	if _, err := readWrapper(&r); err != nil {
		return 0, malformed(code.Name(), err)
	}
	var first []byte
	if err := walkStruct(&r, s, &first); err != nil {
		return 0, malformed(code.Name(), err)
	}
	if err := r.ReadWrapperEnd(); err != nil {
		return 0, malformed(code.Name(), err)
	}
	if byKey {
		return KeyHashChecked(first)
	}
	return HashKeyHash(first), nil
}

func removeHash(payload []byte) (uint64, error) {
	r := thrift.NewReader(payload)
	if _, err := readWrapper(&r); err != nil {
		return 0, malformed(NameRemove, err)
	}
	key, err := r.ReadBlob()
	if err != nil {
		return 0, malformed(NameRemove, err)
	}
	if err := r.ReadWrapperEnd(); err != nil {
		return 0, malformed(NameRemove, err)
	}
	return KeyHashChecked(key)
}

// dupHash is the partition_hash a master puts on a DUPLICATE request: the
// hash of the last entry (duplication.md §3.5). Every entry is validated.
func dupHash(payload []byte) (uint64, error) {
	it, err := NewDupIter(payload)
	if err != nil {
		return 0, err
	}
	var (
		e    DupEntry
		h    uint64
		seen bool
	)
	for it.Next(&e) {
		if h, err = e.Hash(); err != nil {
			return 0, err
		}
		seen = true
	}
	if err := it.Err(); err != nil {
		return 0, err
	}
	if !seen {
		return 0, errNotRoutable
	}
	return h, nil
}

// Preallocated for the hot path.
var (
	errNotRoutable = fmt.Errorf("%w: empty write, bulk load, or a duplicate_request without entries or nesting a DUPLICATE", ErrNotRoutable)
	errUnknownCode = fmt.Errorf("%w: no routing rule", ErrUnknownCode)
)
