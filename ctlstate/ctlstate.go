package ctlstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// FileName is the state file in the state directory.
const FileName = "tables.json"

// Table is the persisted control state of one table. The zero value is a
// table running with its configured fail mode.
type Table struct {
	Paused  bool `json:"paused,omitempty"`
	Removed bool `json:"removed,omitempty"`
	// FailMode overrides the configured failure_policy ("slow" or "skip");
	// empty keeps the configuration's. SkipAfterAttempts goes with "skip".
	FailMode          string    `json:"fail_mode,omitempty"`
	SkipAfterAttempts int       `json:"skip_after_attempts,omitempty"`
	Updated           time.Time `json:"updated"`
}

// State is every controlled table, by configured table name.
type State struct {
	Version int              `json:"version"`
	Tables  map[string]Table `json:"tables"`
}

// version of the file format.
const version = 1

// Load reads dir's state file; a missing file (or directory, or a path
// through a file, which CheckWritable reports) is an empty State.
func Load(dir string) (State, error) {
	st := State{Version: version, Tables: map[string]Table{}}
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("ctlstate: reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return State{Version: version, Tables: map[string]Table{}}, fmt.Errorf("ctlstate: %s: %w", path, err)
	}
	if st.Version != version {
		return State{Version: version, Tables: map[string]Table{}}, fmt.Errorf("ctlstate: %s: unsupported version %d (want %d)", path, st.Version, version)
	}
	if st.Tables == nil {
		st.Tables = map[string]Table{}
	}
	return st, nil
}

// Save writes st to dir atomically and durably (see the package doc),
// creating dir (0700) if it is missing.
func Save(dir string, st State) error {
	st.Version = version
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("ctlstate: encoding: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("ctlstate: creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, FileName+".*.tmp")
	if err != nil {
		return fmt.Errorf("ctlstate: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("ctlstate: writing %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("ctlstate: fsync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("ctlstate: closing %s: %w", name, err)
	}
	path := filepath.Join(dir, FileName)
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("ctlstate: renaming %s to %s: %w", name, path, err)
	}
	ok = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("ctlstate: opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("ctlstate: fsync %s: %w", dir, err)
	}
	return nil
}

// CheckWritable reports whether state can be written under dir: when dir
// exists, by creating and removing a probe file in it (a full or read-only
// disk fails); otherwise by checking that its nearest existing ancestor is
// writable, so that Save can create it.
func CheckWritable(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("ctlstate: %s is not a directory", dir)
	case err == nil:
		f, err := os.CreateTemp(dir, ".probe.*")
		if err != nil {
			return fmt.Errorf("ctlstate: state directory not writable: %w", err)
		}
		name := f.Name()
		_ = f.Close()
		if err := os.Remove(name); err != nil {
			return fmt.Errorf("ctlstate: removing probe %s: %w", name, err)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("ctlstate: state directory: %w", err)
	}
	parent := filepath.Dir(dir)
	if parent == dir {
		return fmt.Errorf("ctlstate: state directory %s cannot be created", dir)
	}
	if _, err := os.Stat(parent); errors.Is(err, fs.ErrNotExist) {
		return CheckWritable(parent)
	}
	if err := syscall.Access(parent, 2 /* W_OK */); err != nil {
		return fmt.Errorf("ctlstate: cannot create state directory %s: %s: %w", dir, parent, err)
	}
	return nil
}
