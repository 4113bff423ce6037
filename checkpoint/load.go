package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/dupbridge/dupbridge/jsonfile"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/router"
)

// Defaults of LoadOptions.
const (
	DefaultBatchBytes   = 256 << 10
	DefaultStepKeys     = 10000
	DefaultLoadParallel = 4
)

// PositionName is the load position file in the staging directory.
const PositionName = "load.json"

// Shipper takes the shipments of one follower table; *router.Table is one.
type Shipper interface {
	Ship(partition int, s *router.Shipment, done func(router.Result))
	PartitionCount() int
}

// LoadOptions configure Load.
type LoadOptions struct {
	// Dir is a staging directory Fetch completed.
	Dir string
	// Open reads a staged partition.
	Open Opener
	// To is the follower table.
	To Shipper
	// MasterClusterID is the cluster id given to entries whose value
	// carries none (schema v0, or a timetag without one) or one that
	// AllowClusterID refuses: the master cluster's duplication cluster id,
	// 1..127 (the follower refuses entries without a configured id,
	// duplication.md §4.2).
	MasterClusterID int8
	// AllowClusterID says whether a value's own cluster id may be sent;
	// nil allows every id.
	AllowClusterID func(id int8) bool
	// KeysPerSecond caps the load rate; 0 = unlimited.
	KeysPerSecond float64
	// BatchBytes caps one shipment (default 256 KiB).
	BatchBytes int
	// StepKeys is how many keys of a partition are shipped before the
	// position moves (default 10000): the most a resumed load sends again.
	StepKeys int
	// Parallel is how many master partitions are loaded at once (default 4).
	Parallel int
	// Admit, when set, is asked before each key is shipped, with the
	// entry's timetag; false skips the key (a newer write of it already
	// went to the follower: keyorder.Guard). Admit and the Ship calls of
	// one step run under Lock when it is set, so that they form one
	// sequence with the caller's other shipments.
	Admit func(key []byte, timetag uint64) bool
	Lock  sync.Locker
	// Progress, when set, is called with the keys of each acknowledged
	// step (including skipped ones), from several goroutines.
	Progress func(keys int64)
	// Now is the clock for expiry (default time.Now).
	Now    func() time.Time
	Logger *zap.Logger
}

func (o *LoadOptions) defaults() error {
	if o.Dir == "" || o.Open == nil || o.To == nil {
		return errors.New("checkpoint: load needs a staging directory, an opener and a follower table")
	}
	if o.MasterClusterID < 1 {
		return fmt.Errorf("checkpoint: load needs the master's cluster id (1..127), got %d", o.MasterClusterID)
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.StepKeys <= 0 {
		o.StepKeys = DefaultStepKeys
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultLoadParallel
	}
	if o.Progress == nil {
		o.Progress = func(int64) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return nil
}

// LoadStats count what Load did.
type LoadStats struct {
	Keys       int64 // shipped and acknowledged
	Expired    int64 // dropped: expired by now
	Superseded int64 // dropped: Admit said a newer write went already
	Resumed    int64 // keys a previous run had loaded
}

// position is the load position file: per master partition, the last key
// acknowledged together with every key before it.
type position struct {
	Version    int            `json:"version"`
	Table      string         `json:"table"`
	Partitions []partPosition `json:"partitions"`
}

type partPosition struct {
	LastKey []byte `json:"last_key,omitempty"`
	Keys    int64  `json:"keys"`
	Done    bool   `json:"done"`
}

// loader is one Load run.
type loader struct {
	o   LoadOptions
	m   *Manifest
	lim *rate.Limiter

	mu  sync.Mutex // guards pos and its file
	pos position

	stats struct{ keys, expired, superseded atomic.Int64 }
}

// Load writes every live key of the checkpoint staged in o.Dir to the
// follower table o.To as PUT duplicate entries (package doc), partition by
// partition, resuming from the position a previous run recorded.
func Load(ctx context.Context, o LoadOptions) (LoadStats, error) {
	if err := o.defaults(); err != nil {
		return LoadStats{}, err
	}
	m, err := ReadManifest(o.Dir)
	if err != nil {
		return LoadStats{}, err
	}
	if !m.Complete() {
		return LoadStats{}, fmt.Errorf("checkpoint: %s holds an incomplete fetch of %s: fetch it first", o.Dir, m.Table)
	}
	l := &loader{o: o, m: m, lim: rate.NewLimiter(rate.Inf, 0)}
	if o.KeysPerSecond > 0 {
		l.lim = emptyLimiter(rate.Limit(o.KeysPerSecond), max(1, min(o.StepKeys, int(o.KeysPerSecond))))
	}
	if err := l.openPosition(); err != nil {
		return LoadStats{}, err
	}
	var st LoadStats
	for _, p := range l.pos.Partitions {
		st.Resumed += p.Keys
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Parallel)
	for i := range m.Partitions {
		g.Go(func() error { return l.partition(gctx, i) })
	}
	err = g.Wait()
	st.Keys, st.Expired, st.Superseded = l.stats.keys.Load(), l.stats.expired.Load(), l.stats.superseded.Load()
	if err != nil {
		return st, err
	}
	o.Logger.Info("checkpoint loaded", zap.String("table", m.Table), zap.Int64("keys", st.Keys),
		zap.Int64("resumed", st.Resumed), zap.Int64("expired", st.Expired), zap.Int64("superseded", st.Superseded))
	return st, nil
}

func (l *loader) openPosition() error {
	path := filepath.Join(l.o.Dir, PositionName)
	found, err := jsonfile.Read(path, &l.pos)
	if err != nil {
		return err
	}
	if found && (l.pos.Version != 1 || l.pos.Table != l.m.Table || len(l.pos.Partitions) != l.m.PartitionCount) {
		return fmt.Errorf("checkpoint: %s does not match the staged table %s with %d partitions", path, l.m.Table, l.m.PartitionCount)
	}
	if !found {
		l.pos = position{Version: 1, Table: l.m.Table, Partitions: make([]partPosition, l.m.PartitionCount)}
	}
	return jsonfile.Write(path, &l.pos)
}

// Done reports whether dir holds a load position that covers every
// partition.
func Done(dir string) (bool, error) {
	var pos position
	found, err := jsonfile.Read(filepath.Join(dir, PositionName), &pos)
	if err != nil || !found || len(pos.Partitions) == 0 {
		return false, err
	}
	for _, p := range pos.Partitions {
		if !p.Done {
			return false, nil
		}
	}
	return true, nil
}

// advance records a step of partition idx as acknowledged.
func (l *loader) advance(idx int, lastKey []byte, keys int64, done bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := &l.pos.Partitions[idx]
	if lastKey != nil {
		p.LastKey = bytes.Clone(lastKey)
	}
	p.Keys += keys
	p.Done = done
	return jsonfile.Write(filepath.Join(l.o.Dir, PositionName), &l.pos)
}

// partition loads master partition idx from its position on.
func (l *loader) partition(ctx context.Context, idx int) error {
	l.mu.Lock()
	start := l.pos.Partitions[idx]
	l.mu.Unlock()
	if start.Done {
		return nil
	}
	dir := PartitionDir(l.o.Dir, idx)
	src, err := l.o.Open(dir, idx, l.m.PartitionCount, start.LastKey)
	if err != nil {
		return &PartitionError{Partition: idx, Op: "opening", Dir: dir, Err: err}
	}
	defer src.Close()
	var r Record
	after := start.LastKey
	// Up to stepsInFlight steps are on their way; the position moves in
	// step order as each is acknowledged whole.
	var pending []*inflight
	settle := func(all bool) error {
		for len(pending) > 0 && (all || len(pending) >= stepsInFlight) {
			f := pending[0]
			pending = pending[1:]
			if err := l.await(ctx, idx, f); err != nil {
				return err
			}
			if err := l.advance(idx, f.lastKey, int64(f.keys), f.end); err != nil {
				return err
			}
			l.o.Progress(int64(f.keys))
		}
		return nil
	}
	for {
		st := step{}
		for st.keys < l.o.StepKeys && src.Next(&r) {
			if after != nil && bytes.Compare(r.Key, after) <= 0 {
				continue // loaded by a previous run
			}
			st.add(l, &r)
		}
		if err := src.Err(); err != nil {
			return &PartitionError{Partition: idx, Op: "reading", Dir: dir, Err: err}
		}
		end := st.keys < l.o.StepKeys
		if err := l.wait(ctx, st.keys); err != nil {
			return err
		}
		pending = append(pending, l.send(idx, &st, end))
		if err := settle(end); err != nil {
			return err
		}
		if end {
			return nil
		}
	}
}

// PartitionError is a staged partition that could not be read (a corrupt
// or missing file): Refetch it before the next Load.
type PartitionError struct {
	Partition int
	Op        string // opening, reading
	Dir       string
	Err       error
}

func (e *PartitionError) Error() string {
	return fmt.Sprintf("checkpoint: %s partition %d (%s): %v", e.Op, e.Partition, e.Dir, e.Err)
}

func (e *PartitionError) Unwrap() error { return e.Err }

// Refetch forgets what dir holds of one partition, copied and loaded, so
// that the next Fetch copies it again (from the master's checkpoint of
// then) and the next Load loads all of it.
func Refetch(dir string, partition int) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	if partition < 0 || partition >= m.PartitionCount {
		return fmt.Errorf("checkpoint: refetch partition %d of %d", partition, m.PartitionCount)
	}
	path := filepath.Join(dir, PositionName)
	var pos position
	found, err := jsonfile.Read(path, &pos)
	if err != nil {
		return err
	}
	if found && partition < len(pos.Partitions) {
		pos.Partitions[partition] = partPosition{}
		if err := jsonfile.Write(path, &pos); err != nil {
			return err
		}
	}
	m.Partitions[partition] = PartitionManifest{Index: partition}
	if err := jsonfile.Write(filepath.Join(dir, ManifestName), m); err != nil {
		return err
	}
	return os.RemoveAll(PartitionDir(dir, partition))
}

// emptyLimiter is a limiter whose bucket starts empty, so the rate holds
// from the first second on (a full bucket would let burst through at once).
func emptyLimiter(r rate.Limit, burst int) *rate.Limiter {
	l := rate.NewLimiter(r, burst)
	l.ReserveN(time.Now(), burst)
	return l
}

// stepsInFlight is how many steps of one partition may await their
// acknowledgements at once.
const stepsInFlight = 2

// wait charges n keys to the rate limit.
func (l *loader) wait(ctx context.Context, n int) error {
	if l.lim.Limit() == rate.Inf {
		return nil
	}
	for n > 0 {
		k := min(n, l.lim.Burst())
		if err := l.lim.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// step is one resumable step of a partition: its records, kept until the
// step is split by follower partition.
type step struct {
	recs    []Record
	buf     []byte // backing store of the records' slices
	keys    int
	lastKey []byte
}

func (st *step) add(l *loader, r *Record) {
	st.keys++
	st.lastKey = append(st.lastKey[:0], r.Key...)
	if r.ExpireTs != 0 && mutation.Expired(r.ExpireTs, l.o.Now().Unix()) {
		l.stats.expired.Add(1)
		return
	}
	// Copy: a Source may reuse its slices. Records keep pointing into
	// earlier backing arrays when buf grows; those stay unchanged.
	k := len(st.buf)
	st.buf = append(st.buf, r.Key...)
	st.buf = append(st.buf, r.Value...)
	st.recs = append(st.recs, Record{Key: st.buf[k : k+len(r.Key) : k+len(r.Key)],
		Value: st.buf[k+len(r.Key) : len(st.buf) : len(st.buf)], ExpireTs: r.ExpireTs, Timetag: r.Timetag})
}

// inflight is a sent step waiting for its acknowledgements.
type inflight struct {
	results chan router.Result
	ships   int
	entries int
	lastKey []byte
	keys    int
	end     bool
}

// send ships a step's records, split by follower partition; Admit and the
// Ship calls run under Lock.
func (l *loader) send(idx int, st *step, end bool) *inflight {
	if l.o.Lock != nil {
		l.o.Lock.Lock()
		defer l.o.Lock.Unlock()
	}
	count := l.o.To.PartitionCount()
	b := newBatcher(count, l.o.BatchBytes)
	var ships []batchOut
	for i := range st.recs {
		r := &st.recs[i]
		e, tt := l.entry(r)
		if l.o.Admit != nil && !l.o.Admit(r.Key, tt) {
			l.stats.superseded.Add(1)
			continue
		}
		ships = b.add(ships, mutation.KeyHash(r.Key), &e)
	}
	ships = b.flush(ships)
	f := &inflight{results: make(chan router.Result, len(ships)), ships: len(ships), lastKey: st.lastKey, keys: st.keys, end: end}
	for _, s := range ships {
		f.entries += s.s.Entries
		l.o.To.Ship(s.partition, s.s, func(r router.Result) { f.results <- r })
	}
	return f
}

// await waits until the follower acknowledged every shipment of f.
func (l *loader) await(ctx context.Context, idx int, f *inflight) error {
	for range f.ships {
		select {
		case r := <-f.results:
			if r.Status != router.StatusOK {
				return fmt.Errorf("checkpoint: partition %d: the follower did not take a shipment (%s after %d attempts): %w",
					idx, r.Status, r.Attempts, r.Err)
			}
		case <-ctx.Done():
			return fmt.Errorf("checkpoint: partition %d: waiting for the follower: %w", idx, ctx.Err())
		}
	}
	l.stats.keys.Add(int64(f.entries))
	return nil
}

// entry is the duplicate entry of a record: a PUT with the value's expiry,
// its timetag's timestamp and cluster id, and verify_timetag.
func (l *loader) entry(r *Record) (mutation.DupEntry, uint64) {
	ts, id, _ := mutation.SplitTimetag(r.Timetag)
	cid := int8(id)
	if cid == 0 || (l.o.AllowClusterID != nil && !l.o.AllowClusterID(cid)) {
		cid = l.o.MasterClusterID
	}
	return mutation.DupEntry{
		Timestamp:        int64(ts),
		TaskCode:         putCode,
		RawMessage:       mutation.AppendPut(nil, 0, r.Key, r.Value, int32(r.ExpireTs)),
		ClusterID:        cid,
		HasClusterID:     true,
		VerifyTimetag:    true,
		HasVerifyTimetag: true,
	}, mutation.Timetag(ts, uint8(cid), false)
}

var putCode = []byte(mutation.CodePut.String())
