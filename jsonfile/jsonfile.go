// Package jsonfile keeps small state documents (progress positions,
// manifests, persisted protocol state) as JSON files that are replaced
// atomically: a reader, or the same program after a crash, finds either
// the old document or the new one, never a mix.
//
// How: Write marshals the value, writes it to a temporary file beside the
// target, fsyncs it, renames it over the target and fsyncs the directory.
// Why: every resumable job of dupbridge needs exactly this, and a torn
// position file would resume from nonsense.
package jsonfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Write replaces path with v as indented JSON (mode 0600), atomically.
func Write(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("jsonfile: %s: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'))
}

// WriteFile replaces path with data (mode 0600), atomically and durably:
// Write without the JSON, for small binary state files (the spool's
// markers).
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("jsonfile: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("jsonfile: writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every file system syncs directories
		d.Close()
	}
	return nil
}

// Read decodes path into v. found is false, with a nil error, when path
// does not exist (a path under a regular file, ENOTDIR, cannot exist
// either: writing there fails later, where the caller reports it).
func Read(path string, v any) (found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("jsonfile: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("jsonfile: %s: %w", path, err)
	}
	return true, nil
}
