package walreader

import (
	"fmt"
	"sort"
)

// Source is anything that yields mutations in log order (Reader, or a test
// fake). A returned mutation may be valid only until the next call.
type Source interface {
	Next() (*Mutation, error)
}

// CommittedOptions configure Committed.
type CommittedOptions struct {
	// FromDecree: deliver only decrees >= FromDecree.
	FromDecree int64
	// MaxPending bounds the uncommitted mutations buffered per partition
	// (0: 4096); more returns ErrWindowFull.
	MaxPending int
	// SkipCorrupt turns a committed decree missing from the log into a
	// WarnMissingDecree warning instead of an ErrMissingDecree error.
	SkipCorrupt bool
	// OnWarning receives warnings (missing decrees, resets).
	OnWarning func(Warning)
}

// Committed delivers only committed mutations, each decree once, in decree
// order per partition, with the replay semantics of storage.md §1.9
// (mirroring Pegasus's duplication mutation_batch): a decree logged again
// under a higher ballot replaces the earlier copy, and a copy with an equal
// or lower ballot is ignored; a mutation is committed once a later mutation
// of its partition carries last_committed_decree >= its decree. Only the
// uncommitted window is buffered (as owned copies). Empty writes are
// delivered too (they are committed mutations); callers filter them.
type Committed struct {
	src   Source
	opts  CommittedOptions
	parts map[uint64]*partState
	ready []*Mutation // committed, to deliver in order from head
	head  int
	last  *Mutation // delivered by the previous call; recycled next call
	free  []*Mutation
	err   error
}

type partState struct {
	commit  int64 // highest decree delivered or known committed
	started bool
	pending map[int64]*Mutation // every key is above commit
	// top is the highest decree ever buffered in pending: the highest one
	// pending when it is above commit, else pending is empty.
	top int64
}

// NewCommitted wraps src.
func NewCommitted(src Source, opts CommittedOptions) *Committed {
	if opts.MaxPending <= 0 {
		opts.MaxPending = 4096
	}
	return &Committed{src: src, opts: opts, parts: map[uint64]*partState{}}
}

func gpidKey(app, part int32) uint64 { return uint64(uint32(app)) | uint64(uint32(part))<<32 }

// Next returns the next committed mutation; io.EOF when the source is
// exhausted (mutations still uncommitted then are not delivered, see
// Pending). The mutation is valid until the next call.
func (c *Committed) Next() (*Mutation, error) {
	if c.last != nil {
		c.free = append(c.free, c.last)
		c.last = nil
	}
	for c.head == len(c.ready) {
		if c.err != nil {
			return nil, c.err
		}
		m, err := c.src.Next()
		if err != nil {
			c.err = err
			continue
		}
		// On error, what was committed before the problem is still delivered.
		c.err = c.add(m)
	}
	m := c.ready[c.head]
	c.ready[c.head] = nil
	c.head++
	if c.head == len(c.ready) {
		c.ready, c.head = c.ready[:0], 0
	}
	c.last = m
	return m, nil
}

func (c *Committed) add(m *Mutation) error {
	k := gpidKey(m.AppID, m.PartitionIndex)
	ps := c.parts[k]
	if ps == nil {
		ps = &partState{pending: map[int64]*Mutation{}}
		c.parts[k] = ps
	}
	if !ps.started {
		// Decrees below the first one seen (or below FromDecree) are taken
		// as already committed and delivered.
		ps.started = true
		ps.commit = m.Decree - 1
		if c.opts.FromDecree-1 > ps.commit {
			ps.commit = c.opts.FromDecree - 1
		}
	}
	// The order of mutation_batch::add and prepare_list::prepare
	// (PS_INACTIVE): drop what is committed or not newer, commit up to the
	// mutation's last_committed_decree, then buffer it.
	if m.Decree <= ps.commit {
		return nil
	}
	old := ps.pending[m.Decree]
	if old != nil && old.Ballot >= m.Ballot {
		return nil
	}
	if err := c.commitTo(ps, m); err != nil {
		return err
	}
	if m.Decree <= ps.commit {
		return nil // a reset moved the commit point past it
	}
	if old = ps.pending[m.Decree]; old != nil {
		m.CloneInto(old)
		return nil
	}
	if len(ps.pending) >= c.opts.MaxPending {
		return fmt.Errorf("walreader: %s at offset %d: gpid %d.%d: %d mutations pending above decree %d: %w",
			m.File, m.FileOffset, m.AppID, m.PartitionIndex, len(ps.pending), ps.commit, ErrWindowFull)
	}
	ps.pending[m.Decree] = c.clone(m)
	ps.top = max(ps.top, m.Decree)
	return nil
}

// commitTo delivers pending decrees up to the mutation's
// last_committed_decree. Like prepare_list::prepare, when that is beyond
// every buffered decree the window is reset instead: the buffered
// mutations were never committed under this log (a replica reset by
// learning, storage.md §1.4) and are dropped with a WarnReset warning.
// A decree missing inside the window is ErrMissingDecree (Pegasus aborts).
func (c *Committed) commitTo(ps *partState, m *Mutation) error {
	lcd := m.LastCommittedDecree
	if lcd <= ps.commit {
		return nil
	}
	maxPending := max(ps.commit, ps.top)
	if lcd > maxPending {
		if n := len(ps.pending); n > 0 {
			c.warn(Warning{Kind: WarnReset, File: m.File, Offset: m.FileOffset, Err: &Error{File: m.File, BlockOffset: m.BlockOffset, Offset: m.FileOffset,
				Err: ErrMissingDecree, Detail: fmt.Sprintf("gpid %d.%d: last_committed_decree %d is beyond every logged decree (up to %d): %d uncommitted mutations dropped",
					m.AppID, m.PartitionIndex, lcd, maxPending, n)}})
			for d, pm := range ps.pending {
				c.free = append(c.free, pm)
				delete(ps.pending, d)
			}
		}
		ps.commit = lcd
		return nil
	}
	for ps.commit < lcd {
		d := ps.commit + 1
		pm := ps.pending[d]
		if pm == nil {
			err := &Error{File: m.File, BlockOffset: m.BlockOffset, Offset: m.FileOffset, Err: ErrMissingDecree,
				Detail: fmt.Sprintf("gpid %d.%d: decree %d is committed (last_committed_decree %d) but was not logged", m.AppID, m.PartitionIndex, d, lcd)}
			if !c.opts.SkipCorrupt {
				return err
			}
			c.warn(Warning{Kind: WarnMissingDecree, File: m.File, Offset: m.FileOffset, Err: err})
			ps.commit = d
			continue
		}
		delete(ps.pending, d)
		c.ready = append(c.ready, pm)
		ps.commit = d
	}
	return nil
}

func (c *Committed) warn(w Warning) {
	if c.opts.OnWarning != nil {
		c.opts.OnWarning(w)
	}
}

func (c *Committed) clone(m *Mutation) *Mutation {
	var dst *Mutation
	if n := len(c.free); n > 0 {
		dst, c.free = c.free[n-1], c.free[:n-1]
	} else {
		dst = new(Mutation)
	}
	m.CloneInto(dst)
	return dst
}

// Pending returns the uncommitted mutations buffered now, by partition and
// decree (at io.EOF: the uncommitted tail of the log).
func (c *Committed) Pending() []*Mutation {
	var out []*Mutation
	for _, ps := range c.parts {
		for _, m := range ps.pending {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ka, kb := gpidKey(a.AppID, a.PartitionIndex), gpidKey(b.AppID, b.PartitionIndex); ka != kb {
			return ka < kb
		}
		return a.Decree < b.Decree
	})
	return out
}

// LastCommitted returns the highest committed decree seen for a partition
// (0 when none).
func (c *Committed) LastCommitted(appID, partitionIndex int32) int64 {
	if ps := c.parts[gpidKey(appID, partitionIndex)]; ps != nil {
		return ps.commit
	}
	return 0
}

var _ Source = (*Reader)(nil)
var _ Source = (*Committed)(nil)
