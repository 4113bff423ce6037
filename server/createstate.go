package server

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/dupbridge/dupbridge/jsonfile"
)

// The create_app state of each table (duplication.md §1.6 step 6) lives in
// [dupbridge] state_dir/create/TABLE.json, written atomically on every
// change, so that a restarted bridge answers the master's repeated
// creating/created requests as before and resumes a checkpoint load.

// createRecord is the persisted create_app state of one table.
type createRecord struct {
	Version int    `json:"version"`
	Table   string `json:"table"`
	// MasterCluster, MasterMetas and MasterApp are the
	// duplication.master_* envs of the creating request; empty for a
	// plain create_app.
	MasterCluster string `json:"master_cluster,omitempty"`
	MasterMetas   string `json:"master_metas,omitempty"`
	MasterApp     string `json:"master_app_name,omitempty"`
	// MasterPartitionCount is the count the master asked for: answered to
	// its health check.
	MasterPartitionCount int `json:"master_partition_count,omitempty"`
	// Status is duplication.follower_app_status: creating / created.
	Status string            `json:"status,omitempty"`
	Envs   map[string]string `json:"envs,omitempty"`
	// Loaded: the master's checkpoint is in the follower table (or no
	// load is needed: without_checkpoint, a plain create).
	Loaded bool `json:"loaded"`
	// LoadError is the last failure of the checkpoint load, for /status.
	LoadError string `json:"load_error,omitempty"`
}

func (s *Server) createPath(table string) string {
	return filepath.Join(s.stateDir, "create", table+".json")
}

// readCreateRecords fills each table's create_app state from state_dir.
// Called by New, before anything runs.
func (s *Server) readCreateRecords() error {
	for _, ts := range s.tabs().byName {
		if err := s.readCreateRecord(ts); err != nil {
			return err
		}
	}
	return nil
}

// readCreateRecord fills one table's create_app state from state_dir (New,
// and Reload for an added table).
func (s *Server) readCreateRecord(ts *tableState) error {
	name := ts.cfg.Name
	p := s.createPath(name)
	var r createRecord
	found, err := jsonfile.Read(p, &r)
	if err != nil {
		return fmt.Errorf("server: create_app state: %w", err)
	}
	if !found {
		return nil
	}
	if r.Version != 1 || r.Table != name {
		return fmt.Errorf("server: create_app state %s: version %d of table %q, want version 1 of %q", p, r.Version, r.Table, name)
	}
	ts.mu.Lock()
	ts.exists, ts.rec = true, r
	ts.mu.Unlock()
	return nil
}

// saveCreateLocked writes ts.rec; ts.mu must be held.
func (s *Server) saveCreateLocked(ts *tableState) error {
	p := s.createPath(ts.cfg.Name)
	r := ts.rec
	r.Version, r.Table = 1, ts.cfg.Name
	r.Envs = maps.Clone(r.Envs)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("server: create_app state: %w", err)
	}
	if err := jsonfile.Write(p, &r); err != nil {
		return fmt.Errorf("server: create_app state: %w", err)
	}
	return nil
}
