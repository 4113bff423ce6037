package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/dupbridge/dupbridge/jsonfile"
)

// progressFile is the resume state: per source partition, the last decree
// fully acknowledged. It is rewritten atomically (temp file + rename) at
// most every flushEvery, and at the end.
type progressFile struct {
	path string

	mu    sync.Mutex
	state progressState
	last  time.Time
	dirty bool
}

type progressState struct {
	Version    int                      `json:"version"`
	Table      string                   `json:"table"`
	Partitions map[string]partitionMark `json:"partitions"`
}

type partitionMark struct {
	Gpid       string `json:"gpid"`
	LastDecree int64  `json:"last_decree"`
}

const flushEvery = 200 * time.Millisecond

func loadProgress(path, table string) (*progressFile, error) {
	p := &progressFile{path: path, state: progressState{Version: 1, Table: table, Partitions: map[string]partitionMark{}}}
	if path == "" {
		return p, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replay: progress file: %w", err)
	}
	var st progressState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("replay: progress file %s: %w", path, err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("replay: progress file %s: version %d, want 1", path, st.Version)
	}
	if st.Table != table {
		return nil, fmt.Errorf("replay: progress file %s is for table %q, not %q", path, st.Table, table)
	}
	if st.Partitions == nil {
		st.Partitions = map[string]partitionMark{}
	}
	p.state = st
	return p, nil
}

// lastDecree returns the recorded decree of key, or 0.
func (p *progressFile) lastDecree(key string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.Partitions[key].LastDecree
}

func (p *progressFile) update(key string, app, pidx int32, decree int64) error {
	if p.path == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state.Partitions[key] = partitionMark{Gpid: fmt.Sprintf("%d.%d", app, pidx), LastDecree: decree}
	p.dirty = true
	if time.Since(p.last) < flushEvery {
		return nil
	}
	return p.writeLocked()
}

func (p *progressFile) flush() error {
	if p.path == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dirty {
		return nil
	}
	return p.writeLocked()
}

func (p *progressFile) writeLocked() error {
	if err := jsonfile.Write(p.path, &p.state); err != nil {
		return fmt.Errorf("replay: progress file: %w", err)
	}
	p.last = time.Now()
	p.dirty = false
	return nil
}

// limiter spaces mutations to a rate (mutations/s) across all partitions.
type limiter struct {
	rate float64
	mu   sync.Mutex
	next time.Time
}

// wait blocks until n more mutations may go and returns when they were
// scheduled to (now when there is no rate): the moment a master writing at
// the rate would have had them ready, the start of their lag.
func (l *limiter) wait(ctx context.Context, n int64) (time.Time, error) {
	if l.rate <= 0 || n <= 0 {
		return time.Now(), nil
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	at := l.next
	l.next = l.next.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	l.mu.Unlock()
	if d := time.Until(at); d > 0 {
		return at, sleep(ctx, d)
	}
	return at, nil
}
