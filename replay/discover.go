package replay

import (
	"errors"
	"fmt"

	"github.com/dupbridge/dupbridge/walreader"
)

// source is one source partition: a plog directory, or plog files of one
// directory given by name.
type source struct {
	key   string   // progress-file key: the cleaned absolute path
	files []string // what walreader.Open gets
}

// discover finds the source partitions under paths (walreader.Discover).
func discover(paths []string) ([]source, error) {
	srcs, err := walreader.Discover(paths)
	if errors.Is(err, walreader.ErrNoPlog) {
		return nil, fmt.Errorf("%w: %w", ErrNoPartitions, err)
	}
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	out := make([]source, len(srcs))
	for i, s := range srcs {
		out[i] = source{key: s.Key, files: s.Paths}
	}
	return out, nil
}
