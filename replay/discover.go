package replay

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/dupbridge/dupbridge/walreader"
)

// source is one source partition: a plog directory, or plog files of one
// directory given by name.
type source struct {
	key   string   // progress-file key: the cleaned absolute path
	files []string // what walreader.Open gets
}

// discover finds the source partitions under paths. A path is a plog
// directory (holds log.<index>.<start_offset> files), a replica directory
// holding plog/, a root holding such directories at any depth up to 4
// (<data>/replica/reps/<app>.<partition>.pegasus/plog, storage.md §1.1), or
// a plog file (files of one directory form one partition).
func discover(paths []string) ([]source, error) {
	var out []source
	seen := map[string]bool{}
	files := map[string][]string{}
	var fileDirs []string
	add := func(dir string) error {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, source{key: abs, files: []string{dir}})
		}
		return nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		if !st.IsDir() {
			d := filepath.Dir(p)
			if _, ok := files[d]; !ok {
				fileDirs = append(fileDirs, d)
			}
			files[d] = append(files[d], p)
			continue
		}
		var dirs []string
		if err := findPlogDirs(p, 0, &dirs); err != nil {
			return nil, err
		}
		if len(dirs) == 0 {
			return nil, fmt.Errorf("%w under %s", ErrNoPartitions, p)
		}
		for _, d := range dirs {
			if err := add(d); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range fileDirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		key := abs + string(filepath.Separator) + "(files)"
		out = append(out, source{key: key, files: files[d]})
	}
	if len(out) == 0 {
		return nil, ErrNoPartitions
	}
	return out, nil
}

func findPlogDirs(dir string, depth int, out *[]string) error {
	fs, err := walreader.ListDir(dir)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if len(fs) > 0 {
		*out = append(*out, dir)
		return nil
	}
	if depth >= 4 {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
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
