package sst

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Column family names of a Pegasus replica (storage.md §5.3).
const (
	DataCF = "default"
	MetaCF = "pegasus_meta_cf"
)

// metaDataVersionKey is the meta-CF record holding the value schema
// version of the whole DB, as decimal ASCII (storage.md §4.2, §5.3).
const metaDataVersionKey = "pegasus_data_version"

// defaultDataVersion is what current servers write to a new DB
// (PEGASUS_DATA_VERSION_MAX).
const defaultDataVersion = 1

// Checkpoint is the tables of one Pegasus checkpoint directory (or a single
// .sst file), split by column family.
type Checkpoint struct {
	Path string
	Data []*Table // tables of the data column family
	Meta []*Table // tables of pegasus_meta_cf
	// Skipped lists the files that are not tables: CURRENT, MANIFEST-*,
	// OPTIONS-*, empty WAL files, replica metadata.
	Skipped []string
	// DataVersion is the value schema of values that do not carry the v2
	// marker: the meta CF's pegasus_data_version, or 1 when the checkpoint
	// has none (DataVersionFound false). A caller may override it before
	// calling Live.
	DataVersion      int
	DataVersionFound bool
}

// OpenCheckpoint opens every table of a checkpoint directory, or the one
// table when path is a file. A RocksDB checkpoint holds exactly the live
// tables of its DB (Checkpoint::CreateCheckpoint copies the live file
// list), so no MANIFEST is needed to choose them; each table's properties
// name its column family. The MANIFEST is read only for bulk-load tables
// that do not record their sequence number (checkSeqnos). A non-empty WAL file is refused: Pegasus writes
// with the WAL disabled, so one would hold writes this reader cannot see.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sst: opening checkpoint: %w", err)
	}
	c := &Checkpoint{Path: path, DataVersion: defaultDataVersion}
	files := []string{path}
	if st.IsDir() {
		if files, err = c.listDir(path); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := c.add(f); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.checkSeqnos(path); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.readDataVersion(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// listDir returns the .sst files of dir in name order and records the rest.
func (c *Checkpoint) listDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sst: listing checkpoint: %w", err)
	}
	var ssts []string
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.IsDir():
			c.Skipped = append(c.Skipped, name+"/")
		case strings.HasSuffix(name, ".sst"):
			ssts = append(ssts, filepath.Join(dir, name))
		case strings.HasSuffix(name, ".log"):
			info, err := e.Info()
			if err != nil {
				return nil, fmt.Errorf("sst: checkpoint %s: %w", dir, err)
			}
			if info.Size() > 0 {
				return nil, unsupportedf(filepath.Join(dir, name), -1, "a non-empty WAL file (%d bytes) in the checkpoint: its writes are in no table", info.Size())
			}
			c.Skipped = append(c.Skipped, name)
		default:
			c.Skipped = append(c.Skipped, name)
		}
	}
	sort.Strings(ssts)
	return ssts, nil
}

func (c *Checkpoint) add(path string) error {
	t, err := Open(path)
	if err != nil {
		return err
	}
	p := t.Properties()
	switch p.ColumnFamily {
	case DataCF, "": // "": written by SstFileWriter without a column family (bulk load)
		c.Data = append(c.Data, t)
	case MetaCF:
		c.Meta = append(c.Meta, t)
	default:
		t.Close()
		return unsupportedf(path, -1, "table of column family %q (Pegasus has only %q and %q)", p.ColumnFamily, DataCF, MetaCF)
	}
	return nil
}

// checkSeqnos gives every ingested table without a recorded global
// sequence number the one RocksDB assigned it, when other tables could hold
// the same keys. Pegasus ingests bulk-load files with write_global_seqno =
// false (its rocksdb_write_global_seqno default), which leaves that number
// in the MANIFEST only; so only then is the MANIFEST read.
func (c *Checkpoint) checkSeqnos(dir string) error {
	var need []*Table
	for _, t := range c.Data {
		if p := t.Properties(); p.External && p.GlobalSeqno == 0 {
			need = append(need, t)
		}
	}
	if len(need) == 0 || len(c.Data) < 2 {
		return nil
	}
	seqs, err := manifestSeqnos(dir)
	if err != nil {
		return fmt.Errorf("sst: %d bulk-load tables need their sequence numbers from the MANIFEST: %w", len(need), err)
	}
	for _, t := range need {
		num, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(t.path), ".sst"), 10, 64)
		sr, ok := seqs[num]
		switch {
		case err != nil || !ok:
			return corruptf(t.path, -1, "bulk-load table not among the MANIFEST's live tables")
		case sr.smallest != sr.largest:
			return corruptf(t.path, -1, "bulk-load table with sequence range %d..%d in the MANIFEST, want one number", sr.smallest, sr.largest)
		}
		t.props.GlobalSeqno = sr.largest
	}
	return nil
}

// readDataVersion takes the newest pegasus_data_version of the meta CF.
func (c *Checkpoint) readDataVersion() error {
	m := newMergeIter(c.iters(c.Meta))
	defer m.close()
	for it := m.top(); it != nil; it = m.top() {
		if string(it.Key()) == metaDataVersionKey {
			if it.Kind() != KindValue {
				return nil
			}
			v, err := strconv.Atoi(string(it.Value()))
			if err != nil || v < 0 {
				return corruptf(it.t.path, -1, "%s is %q, not a version number", metaDataVersionKey, it.Value())
			}
			c.DataVersion, c.DataVersionFound = v, true
			return nil
		}
		m.next()
	}
	return m.err
}

func (c *Checkpoint) iters(ts []*Table) []*Iter {
	its := make([]*Iter, len(ts))
	for i, t := range ts {
		its[i] = t.NewIter()
	}
	return its
}

// DataBytes is the size of the data tables together (see Live.BytesRead).
func (c *Checkpoint) DataBytes() int64 {
	var n int64
	for _, t := range c.Data {
		n += t.size
	}
	return n
}

// Close closes every table.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, t := range append(append([]*Table(nil), c.Data...), c.Meta...) {
		errs = append(errs, t.Close())
	}
	return errors.Join(errs...)
}

// compareUserKeys is the bytewise comparator of Pegasus's DBs.
func compareUserKeys(a, b []byte) int { return bytes.Compare(a, b) }
