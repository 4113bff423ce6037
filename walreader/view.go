package walreader

import (
	"fmt"
	"path/filepath"

	"github.com/dupbridge/dupbridge/mutation"
)

// MutationView is the JSON form of a mutation that `dupbridge wal dump
// --json` prints, one object per line. Byte strings are []byte, so
// encoding/json writes them as base64.
type MutationView struct {
	File                string       `json:"file"`   // base name
	Offset              int64        `json:"offset"` // file offset of the mutation
	Gpid                string       `json:"gpid"`   // "app.partition"
	Ballot              int64        `json:"ballot"`
	Decree              int64        `json:"decree"`
	LastCommittedDecree int64        `json:"last_committed_decree"`
	TimestampUs         int64        `json:"timestamp_us"`
	Updates             []UpdateView `json:"updates"`
}

// UpdateView is one decoded update: Code is the task-code name, then the
// fields of its kind (storage.md §2.3). What cannot be decoded is shown as
// Raw, with Error saying why.
type UpdateView struct {
	Code            string  `json:"code"`
	HashKey         *[]byte `json:"hash_key,omitempty"`
	SortKey         *[]byte `json:"sort_key,omitempty"`
	Value           *[]byte `json:"value,omitempty"`
	ExpireTsSeconds *int32  `json:"expire_ts_seconds,omitempty"`
	// PUT fields 4–7 (translated atomic writes, storage.md §2.3).
	UpdateType *int32    `json:"update_type,omitempty"`
	Kvs        *[]KVView `json:"kvs,omitempty"`
	SortKeys   *[][]byte `json:"sort_keys,omitempty"`
	Increment  *int64    `json:"increment,omitempty"`

	// CHECK_AND_SET / CHECK_AND_MUTATE.
	CheckSortKey       *[]byte       `json:"check_sort_key,omitempty"`
	CheckType          *int32        `json:"check_type,omitempty"`
	CheckOperand       *[]byte       `json:"check_operand,omitempty"`
	SetDiffSortKey     *bool         `json:"set_diff_sort_key,omitempty"`
	SetSortKey         *[]byte       `json:"set_sort_key,omitempty"`
	SetValue           *[]byte       `json:"set_value,omitempty"`
	SetExpireTsSeconds *int32        `json:"set_expire_ts_seconds,omitempty"`
	ReturnCheckValue   *bool         `json:"return_check_value,omitempty"`
	MutateList         *[]MutateView `json:"mutate_list,omitempty"`

	Raw   *[]byte `json:"raw,omitempty"`
	Error string  `json:"error,omitempty"`
}

// KVView is one kv of a MULTI_PUT.
type KVView struct {
	SortKey []byte `json:"sort_key"`
	Value   []byte `json:"value"`
}

// MutateView is one element of a CHECK_AND_MUTATE's mutate_list.
type MutateView struct {
	Operation          int32   `json:"operation"` // 0 put, 1 delete
	SortKey            []byte  `json:"sort_key"`
	Value              *[]byte `json:"value,omitempty"`
	SetExpireTsSeconds int32   `json:"set_expire_ts_seconds"`
}

// View builds the JSON form of m. Its byte slices alias m.
func View(m *Mutation) MutationView {
	v := MutationView{File: filepath.Base(m.File), Offset: m.FileOffset, Gpid: fmt.Sprintf("%d.%d", m.AppID, m.PartitionIndex),
		Ballot: m.Ballot, Decree: m.Decree, LastCommittedDecree: m.LastCommittedDecree, TimestampUs: m.Timestamp,
		Updates: make([]UpdateView, 0, len(m.Updates))}
	for i := range m.Updates {
		v.Updates = append(v.Updates, ViewUpdate(&m.Updates[i]))
	}
	return v
}

func ptr[T any](v T) *T { return &v }

// bp makes a byte string that is shown even when empty.
func bp(b []byte) *[]byte {
	if b == nil {
		b = []byte{}
	}
	return &b
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ViewUpdate decodes one update into its JSON form.
func ViewUpdate(u *Update) UpdateView {
	v := UpdateView{Code: string(u.Name)}
	switch u.Code {
	case mutation.CodePut, mutation.CodeRemove, mutation.CodeMultiPut, mutation.CodeMultiRemove,
		mutation.CodeIncr, mutation.CodeCheckAndSet, mutation.CodeCheckAndMutate:
	case mutation.CodeWriteEmpty:
		if len(u.Data) > 0 {
			v.Raw, v.Error = bp(u.Data), "payload on an empty write"
		}
		return v
	default:
		v.Raw = bp(u.Data)
		return v
	}
	d, err := mutation.Decode(u.Code, u.Data)
	if err != nil {
		v.Raw, v.Error = bp(u.Data), err.Error()
		return v
	}
	split := func(raw []byte) bool {
		hk, sk, err := mutation.SplitRawKey(raw)
		if err != nil {
			v.Raw, v.Error = bp(u.Data), err.Error()
			return false
		}
		v.HashKey, v.SortKey = bp(hk), bp(sk)
		return true
	}
	switch u.Code {
	case mutation.CodePut:
		p := d.Put
		if split(p.Key) {
			v.Value, v.ExpireTsSeconds = bp(p.Value), ptr(p.ExpireTsSeconds)
			if p.HasType {
				v.UpdateType = ptr(int32(p.Type))
			}
		}
	case mutation.CodeRemove:
		split(d.RemoveKey)
	case mutation.CodeMultiPut:
		r := d.MultiPut
		v.HashKey, v.ExpireTsSeconds = bp(r.HashKey), ptr(r.ExpireTsSeconds)
		kvs := make([]KVView, 0, len(r.Kvs))
		for _, kv := range r.Kvs {
			kvs = append(kvs, KVView{SortKey: nonNil(kv.Key), Value: nonNil(kv.Value)})
		}
		v.Kvs = &kvs
	case mutation.CodeMultiRemove:
		r := d.MultiRemove
		v.HashKey = bp(r.HashKey)
		sks := make([][]byte, 0, len(r.SortKeys))
		for _, sk := range r.SortKeys {
			sks = append(sks, nonNil(sk))
		}
		v.SortKeys = &sks
	case mutation.CodeIncr:
		r := d.Incr
		if split(r.Key) {
			v.Increment, v.ExpireTsSeconds = ptr(r.Increment), ptr(r.ExpireTsSeconds)
		}
	case mutation.CodeCheckAndSet:
		r := d.CheckAndSet
		v.HashKey, v.CheckSortKey, v.CheckType, v.CheckOperand = bp(r.HashKey), bp(r.CheckSortKey), ptr(int32(r.CheckType)), bp(r.CheckOperand)
		v.SetDiffSortKey, v.SetSortKey, v.SetValue = ptr(r.SetDiffSortKey), bp(r.SetSortKey), bp(r.SetValue)
		v.SetExpireTsSeconds, v.ReturnCheckValue = ptr(r.SetExpireTsSeconds), ptr(r.ReturnCheckValue)
	case mutation.CodeCheckAndMutate:
		r := d.CheckAndMutate
		v.HashKey, v.CheckSortKey, v.CheckType, v.CheckOperand = bp(r.HashKey), bp(r.CheckSortKey), ptr(int32(r.CheckType)), bp(r.CheckOperand)
		v.ReturnCheckValue = ptr(r.ReturnCheckValue)
		ml := make([]MutateView, 0, len(r.MutateList))
		for _, mu := range r.MutateList {
			ml = append(ml, MutateView{Operation: int32(mu.Operation), SortKey: nonNil(mu.SortKey), Value: bp(mu.Value), SetExpireTsSeconds: mu.SetExpireTsSeconds})
		}
		v.MutateList = &ml
	}
	return v
}
