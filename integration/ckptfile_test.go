package integration

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dupbridge/dupbridge/checkpoint"
)

// Until the RocksDB reader (checkpoint/sst) is on main, the end-to-end
// tests stage each master partition's records as JSON lines next to a
// CURRENT file: the copy, resume and load paths are the same, only the
// file format differs.

type lineRecord struct {
	Key      []byte `json:"k"`
	Value    []byte `json:"v"`
	ExpireTs uint32 `json:"e"`
	Timetag  uint64 `json:"t"`
}

func writeCheckpoint(t *testing.T, dir string, recs []checkpoint.Record) error {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "CURRENT"), []byte("MANIFEST-000005\n"), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "records.jsonl"))
	if err != nil {
		return err
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	src := checkpoint.NewMemorySource(recs) // sorted by key, as RocksDB keeps them
	var r checkpoint.Record
	for src.Next(&r) {
		if err := enc.Encode(lineRecord{r.Key, r.Value, r.ExpireTs, r.Timetag}); err != nil {
			return err
		}
	}
	return f.Sync()
}

func openCheckpoint(dir string, partition, count int, _ []byte) (checkpoint.Source, error) {
	f, err := os.Open(filepath.Join(dir, "records.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []checkpoint.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l lineRecord
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, err
		}
		recs = append(recs, checkpoint.Record{Key: l.Key, Value: l.Value, ExpireTs: l.ExpireTs, Timetag: l.Timetag})
	}
	return checkpoint.NewMemorySource(recs), sc.Err()
}
