package keyorder

import (
	"fmt"
	"time"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/thrift"
)

// Verdict is what Filter decided for one duplicate entry.
type Verdict uint8

const (
	// Keep: forward the entry as it is (its Raw bytes).
	Keep Verdict = iota
	// Drop: every key of the entry has a newer write already forwarded.
	Drop
	// Rewrite: some keys of a multi write are superseded; forward the entry
	// with the returned raw_message, which holds only the others.
	Rewrite
)

// Filter applies the guard to one duplicate entry (wire.md §4.6) of a
// follower table (scope). PUT and REMOVE are decided by their key, without
// allocating; MULTI_PUT and MULTI_REMOVE key by key, and an entry that is
// only partly superseded is re-encoded without those keys. Other task codes
// are kept (the caller rejects them before).
func (g *Guard) Filter(scope uint32, e *mutation.DupEntry) (Verdict, []byte, error) {
	return g.FilterAt(scope, e, g.o.Now())
}

// FilterAt is Filter with the clock read by the caller (see AdmitAt).
func (g *Guard) FilterAt(scope uint32, e *mutation.DupEntry, now time.Time) (Verdict, []byte, error) {
	v, rewritten, _, err := g.filter(scope, e, now, g.admitTied)
	return v, rewritten, err
}

// FilterTied is Filter; tied also reports that a key of the entry already
// had an admitted write with the same timetag, so that a follower's
// verify_timetag rule (equal keeps the stored value) could keep the wrong
// one of the two (docs/relay.md §2.7).
func (g *Guard) FilterTied(scope uint32, e *mutation.DupEntry) (v Verdict, rewritten []byte, tied bool, err error) {
	return g.filter(scope, e, g.o.Now(), g.admitTied)
}

// FilterTiedAt is FilterTied with the clock read by the caller (see
// AdmitAt).
func (g *Guard) FilterTiedAt(scope uint32, e *mutation.DupEntry, now time.Time) (v Verdict, rewritten []byte, tied bool, err error) {
	return g.filter(scope, e, now, g.admitTied)
}

// Peek is what Filter would decide for e now, without recording anything:
// Drop or Rewrite when a newer write of (some of) its keys was admitted
// since. An edge uses it to leave superseded writes out of what it resends
// (docs/relay.md §2.7).
func (g *Guard) Peek(scope uint32, e *mutation.DupEntry) (Verdict, []byte, error) {
	v, rewritten, _, err := g.filter(scope, e, g.o.Now(), g.peek)
	return v, rewritten, err
}

// admitFunc decides one key: admit (and record) or peek.
type admitFunc func(scope uint32, key []byte, tt uint64, now time.Time) (ok, tied bool)

func (g *Guard) filter(scope uint32, e *mutation.DupEntry, now time.Time, admit admitFunc) (v Verdict, rewritten []byte, tied bool, err error) {
	tt := Timetag(e.Timestamp, e.ClusterID)
	var key []byte
	switch e.Code() {
	case mutation.CodePut:
		key, err = putKey(e.RawMessage)
	case mutation.CodeRemove:
		key, err = removeKey(e.RawMessage)
	case mutation.CodeMultiPut:
		return filterMultiPut(scope, e, tt, now, admit)
	case mutation.CodeMultiRemove:
		return filterMultiRemove(scope, e, tt, now, admit)
	default:
		return Keep, nil, false, nil
	}
	if err != nil {
		return Keep, nil, false, err
	}
	ok, tied := admit(scope, key, tt, now)
	if !ok {
		return Drop, nil, false, nil
	}
	return Keep, nil, tied, nil
}

func filterMultiPut(scope uint32, e *mutation.DupEntry, tt uint64, now time.Time, admit admitFunc) (Verdict, []byte, bool, error) {
	u, err := mutation.Decode(mutation.CodeMultiPut, e.RawMessage)
	if err != nil {
		return Keep, nil, false, err
	}
	mp := u.MultiPut
	if len(mp.Kvs) == 0 {
		return Keep, nil, false, nil // an empty multi_put writes nothing (duplication.md §4.2)
	}
	kept := mp.Kvs[:0:0]
	var key []byte
	anyTied := false
	for _, kv := range mp.Kvs {
		key = mutation.AppendRawKey(key[:0], mp.HashKey, kv.Key)
		if ok, tied := admit(scope, key, tt, now); ok {
			kept = append(kept, kv)
			anyTied = anyTied || tied
		}
	}
	switch len(kept) {
	case len(mp.Kvs):
		return Keep, nil, anyTied, nil
	case 0:
		return Drop, nil, false, nil
	}
	nr := *mp
	nr.Kvs = kept
	return Rewrite, mutation.AppendMultiPut(nil, u.WrapperID, &nr), anyTied, nil
}

func filterMultiRemove(scope uint32, e *mutation.DupEntry, tt uint64, now time.Time, admit admitFunc) (Verdict, []byte, bool, error) {
	u, err := mutation.Decode(mutation.CodeMultiRemove, e.RawMessage)
	if err != nil {
		return Keep, nil, false, err
	}
	mr := u.MultiRemove
	if len(mr.SortKeys) == 0 {
		return Keep, nil, false, nil
	}
	var kept [][]byte
	var key []byte
	anyTied := false
	for _, sk := range mr.SortKeys {
		key = mutation.AppendRawKey(key[:0], mr.HashKey, sk)
		if ok, tied := admit(scope, key, tt, now); ok {
			kept = append(kept, sk)
			anyTied = anyTied || tied
		}
	}
	switch len(kept) {
	case len(mr.SortKeys):
		return Keep, nil, anyTied, nil
	case 0:
		return Drop, nil, false, nil
	}
	nr := *mr
	nr.SortKeys = kept
	return Rewrite, mutation.AppendMultiRemove(nil, u.WrapperID, &nr), anyTied, nil
}

// putKey returns update_request.key (field 1, a blob) of a wrapped PUT
// payload (storage.md §2.3).
func putKey(payload []byte) ([]byte, error) {
	r := thrift.NewReader(payload)
	if _, _, err := r.ReadWrapperBegin(); err != nil {
		return nil, fmt.Errorf("keyorder: put payload: %w", err)
	}
	for {
		t, id, err := r.ReadFieldHeader()
		if err != nil {
			return nil, fmt.Errorf("keyorder: put payload: %w", err)
		}
		if t == thrift.STOP {
			return nil, fmt.Errorf("keyorder: put payload without key: %w", mutation.ErrMalformed)
		}
		if id == 1 && t == thrift.STRUCT {
			k, err := r.ReadBlob()
			if err != nil {
				return nil, fmt.Errorf("keyorder: put key: %w", err)
			}
			return k, nil
		}
		var skipErr error
		switch {
		case (id == 2 || id == 7) && t == thrift.STRUCT: // value, check_value: blobs
			_, skipErr = r.ReadBlob()
		default:
			skipErr = r.Skip(t)
		}
		if skipErr != nil {
			return nil, fmt.Errorf("keyorder: put payload: %w", skipErr)
		}
	}
}

// removeKey returns the wrapped blob key of a REMOVE payload.
func removeKey(payload []byte) ([]byte, error) {
	r := thrift.NewReader(payload)
	if _, _, err := r.ReadWrapperBegin(); err != nil {
		return nil, fmt.Errorf("keyorder: remove payload: %w", err)
	}
	k, err := r.ReadBlob()
	if err != nil {
		return nil, fmt.Errorf("keyorder: remove key: %w", err)
	}
	return k, nil
}
