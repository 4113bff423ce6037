package replay

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dupbridge/dupbridge/rpcclient"
)

// resolver caches the follower table's configuration, as the C++ client's
// partition resolver does (duplication.md §3.6), and refreshes it from meta
// when a caller reports it stale. One refresh serves every caller that saw
// the same generation.
type resolver struct {
	meta      *rpcclient.Meta
	table     string
	refreshes *atomic.Int64

	mu  sync.Mutex // held during a refresh: callers wait for its result
	cfg *rpcclient.TableConfig
	gen uint64
}

// get returns the current configuration and its generation, querying meta
// if there is none.
func (r *resolver) get(ctx context.Context) (*rpcclient.TableConfig, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg != nil {
		return r.cfg, r.gen, nil
	}
	if err := r.refreshLocked(ctx); err != nil {
		return nil, r.gen, err
	}
	return r.cfg, r.gen, nil
}

// invalidate drops the configuration of generation gen (a newer one is
// kept: someone refreshed already).
func (r *resolver) invalidate(gen uint64) {
	r.mu.Lock()
	if r.gen == gen {
		r.cfg = nil
	}
	r.mu.Unlock()
}

func (r *resolver) refreshLocked(ctx context.Context) error {
	r.refreshes.Add(1)
	cfg, err := r.meta.QueryConfig(ctx, r.table, nil)
	if err != nil {
		return err
	}
	if err := checkConfig(cfg); err != nil {
		return fmt.Errorf("replay: table %s: %w", r.table, err)
	}
	r.cfg = cfg
	r.gen++
	return nil
}

// checkConfig rejects configurations a Pegasus client would not route with
// (wire.md §6.2): partition count not a power of two or not matching the
// list.
func checkConfig(cfg *rpcclient.TableConfig) error {
	n := cfg.PartitionCount
	if n <= 0 || n&(n-1) != 0 {
		return fmt.Errorf("partition count %d is not a power of two", n)
	}
	if int(n) != len(cfg.Partitions) {
		return fmt.Errorf("partition count %d but %d partition configs", n, len(cfg.Partitions))
	}
	return nil
}
