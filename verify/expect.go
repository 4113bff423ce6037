package verify

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/walreader"
)

// Value is the expected user value of one key.
type Value struct {
	Value    []byte
	ExpireTs int32 // seconds since 2016-01-01 (storage.md §4.3); 0 = none
}

// State is the final content the logs imply, keyed by raw key
// (storage.md §3.1).
type State struct {
	Keys map[string]Value
	// Mutations counts committed mutations read; Writes the idempotent
	// writes applied; Skipped the committed writes a master does not
	// duplicate (empty writes excluded; duplication.md §3.3).
	Mutations, Writes, Skipped int64
}

// Sorted returns the raw keys in byte order.
func (s *State) Sorted() []string {
	out := make([]string, 0, len(s.Keys))
	for k := range s.Keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FromPlogs reads each path (a plog directory or file list of one
// partition, as walreader.Open takes) with committed-only semantics and
// applies its writes. Keys of different master partitions never overlap,
// so the partitions are independent.
func FromPlogs(partitions [][]string) (*State, error) {
	st := &State{Keys: map[string]Value{}}
	for _, paths := range partitions {
		if err := st.apply(paths); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (st *State) apply(paths []string) error {
	rd, err := walreader.Open(paths, walreader.Options{})
	if err != nil {
		return fmt.Errorf("verify: open %v: %w", paths, err)
	}
	defer rd.Close()
	cm := walreader.NewCommitted(rd, walreader.CommittedOptions{})
	for {
		m, err := cm.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("verify: read %v: %w", paths, err)
		}
		if m.IsEmptyWrite() {
			continue
		}
		st.Mutations++
		for i := range m.Updates {
			u := &m.Updates[i]
			if !u.Code.Duplicated() {
				st.Skipped++
				continue
			}
			if err := st.applyUpdate(u); err != nil {
				return fmt.Errorf("verify: %s offset %d decree %d: %w", m.File, m.FileOffset, m.Decree, err)
			}
			st.Writes++
		}
	}
}

func (st *State) applyUpdate(u *walreader.Update) error {
	up, err := mutation.Decode(u.Code, u.Data)
	if err != nil {
		return err
	}
	switch u.Code {
	case mutation.CodePut:
		st.Keys[string(up.Put.Key)] = Value{Value: clone(up.Put.Value), ExpireTs: up.Put.ExpireTsSeconds}
	case mutation.CodeRemove:
		delete(st.Keys, string(up.RemoveKey))
	case mutation.CodeMultiPut:
		for _, kv := range up.MultiPut.Kvs {
			k := mutation.AppendRawKey(nil, up.MultiPut.HashKey, kv.Key)
			st.Keys[string(k)] = Value{Value: clone(kv.Value), ExpireTs: up.MultiPut.ExpireTsSeconds}
		}
	case mutation.CodeMultiRemove:
		for _, sk := range up.MultiRemove.SortKeys {
			delete(st.Keys, string(mutation.AppendRawKey(nil, up.MultiRemove.HashKey, sk)))
		}
	}
	return nil
}

func clone(b []byte) []byte { return append([]byte{}, b...) }
