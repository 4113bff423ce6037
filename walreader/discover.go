package walreader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// ErrNoPlog: no plog file was found under a path given to Discover.
var ErrNoPlog = errors.New("walreader: no plog found")

// LogSource is one source partition's log: what Open takes.
type LogSource struct {
	// Key identifies the source: the cleaned absolute path of its plog
	// directory, or of the directory of its files followed by "(files)".
	Key   string
	Paths []string
}

// Discover finds the source partitions under paths. A path is a plog
// directory (holds log.<index>.<start_offset> files), a replica directory
// holding plog/, a root holding such directories at any depth up to 4
// (<data>/replica/reps/<app>.<partition>.pegasus/plog, storage.md §1.1), or
// a plog file (the files of one directory form one partition). A directory
// given twice counts once.
func Discover(paths []string) ([]LogSource, error) {
	var out []LogSource
	seen := map[string]bool{}
	files := map[string][]string{}
	var fileDirs []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("walreader: %w", err)
		}
		if !st.IsDir() {
			d := filepath.Dir(p)
			if _, ok := files[d]; !ok {
				fileDirs = append(fileDirs, d)
			}
			files[d] = append(files[d], p)
			continue
		}
		var dirs []plogDir
		if err := findPlogDirs(p, 0, &dirs); err != nil {
			return nil, err
		}
		if len(dirs) == 0 {
			return nil, fmt.Errorf("%w under %s", ErrNoPlog, p)
		}
		for _, d := range dirs {
			abs, err := filepath.Abs(d.dir)
			if err != nil {
				return nil, err
			}
			if !seen[abs] {
				seen[abs] = true
				out = append(out, LogSource{Key: abs, Paths: []string{d.dir}})
			}
		}
	}
	for _, d := range fileDirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		out = append(out, LogSource{Key: abs + string(filepath.Separator) + "(files)", Paths: files[d]})
	}
	if len(out) == 0 {
		return nil, ErrNoPlog
	}
	return out, nil
}

// plogDir is a directory holding plog files, and its files in index order.
type plogDir struct {
	dir   string
	files []FileInfo
}

// findPlogDirs appends the plog directories at or under dir, in name order:
// dir itself when it holds plog files, else those found in its
// subdirectories, down to depth 4 (storage.md §1.1).
func findPlogDirs(dir string, depth int, out *[]plogDir) error {
	fs, err := ListDir(dir)
	if err != nil {
		return fmt.Errorf("walreader: %w", err)
	}
	if len(fs) > 0 {
		*out = append(*out, plogDir{dir, fs})
		return nil
	}
	if depth >= 4 {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("walreader: %w", err)
	}
	var subs []string
	for _, e := range ents {
		if e.IsDir() {
			subs = append(subs, e.Name())
		}
	}
	sort.Strings(subs)
	for _, s := range subs {
		if err := findPlogDirs(filepath.Join(dir, s), depth+1, out); err != nil {
			return err
		}
	}
	return nil
}
