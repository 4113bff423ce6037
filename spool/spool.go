package spool

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/jsonfile"
)

// Defaults of Options.
const (
	DefaultMaxBytes     = 1 << 30
	DefaultSegmentBytes = 64 << 20
	DefaultRetain       = 10 * time.Minute
	// ackSaveEvery is the least time between two writes of the acked marker.
	ackSaveEvery = 100 * time.Millisecond
)

// ErrClosed is the result of an Append after Close.
var ErrClosed = errors.New("spool: closed")

// Options configure a Spool.
type Options struct {
	// Dir holds the spool (created 0700 if missing). Required.
	Dir string
	// MaxBytes bounds the unacknowledged bytes (headers included).
	MaxBytes int64
	// SegmentBytes is the size after which a new segment file starts.
	SegmentBytes int64
	// Retain is how long acknowledged segments stay on disk for the order
	// memory's rebuild (docs/relay.md §1.6); their bytes are also bounded by
	// MaxBytes.
	Retain time.Duration
	// Logger; zap.NewNop() when nil.
	Logger *zap.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

type segment struct {
	first, last uint64 // last == first-1 while empty
	path        string
	size        int64     // durable bytes
	written     time.Time // time of the last write
}

type waiter struct {
	payload []byte
	done    func(uint64, error)
}

type queued struct {
	lsn  uint64
	done func(uint64, error)
}

// Spool is a durable, bounded queue of records. All methods are safe for
// concurrent use; Append and Ack never block on I/O.
type Spool struct {
	o   Options
	log *zap.Logger
	id  uint64

	mu       sync.Mutex
	segs     []*segment
	next     uint64 // next LSN to assign
	durable  uint64
	acked    uint64
	unacked  int64   // bytes of admitted records above acked
	sizes    []int32 // encoded sizes of records acked+1 .. next-1
	queue    []byte  // admitted records not written yet
	queueCBs []queued
	waiting  []waiter // appends that did not fit
	notify   chan struct{}
	err      error // sticky: the first write failure
	syncs    int64 // fsyncs of segment data (group commit makes it < appends)
	closed   bool

	// writer goroutine only
	f         *os.File
	spare     []byte
	savedAck  uint64
	savedWhen time.Time

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// Open opens (or creates) the spool in o.Dir and checks every record. replay,
// when not nil, is called for each record in LSN order, acknowledged or not;
// payload is valid only during the call. A torn tail is cut off with a
// warning; other damage fails with an error wrapping ErrCorrupt that names
// the file and offset.
func Open(o Options, replay func(lsn uint64, payload []byte) error) (*Spool, error) {
	if o.Dir == "" {
		return nil, errors.New("spool: Options.Dir is required")
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.Retain <= 0 {
		o.Retain = DefaultRetain
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: creating %s: %w", o.Dir, err)
	}
	s := &Spool{o: o, log: o.Logger, notify: make(chan struct{}), kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	if s.id, err = loadID(filepath.Join(o.Dir, "id")); err != nil {
		return nil, err
	}
	if s.acked, err = loadAcked(filepath.Join(o.Dir, "acked")); err != nil {
		return nil, err
	}
	if err := s.load(replay); err != nil {
		return nil, err
	}
	s.savedAck, s.savedWhen = s.acked, o.Now()
	go s.writer()
	return s, nil
}

// load reads every segment (docs/relay.md §1.3).
func (s *Spool) load(replay func(uint64, []byte) error) error {
	names, err := filepath.Glob(filepath.Join(s.o.Dir, "*.seg"))
	if err != nil {
		return fmt.Errorf("spool: listing %s: %w", s.o.Dir, err)
	}
	type named struct {
		first uint64
		path  string
	}
	var files []named
	for _, p := range names {
		first, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(p), ".seg"), 16, 64)
		if err != nil || first == 0 {
			return fmt.Errorf("%w: %s: not a segment name (want 16 hex digits of its first LSN)", ErrCorrupt, p)
		}
		files = append(files, named{first, p})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].first < files[j].first })
	now := s.o.Now()
	s.next = s.acked + 1
	for i, f := range files {
		if i > 0 && f.first != s.next {
			return fmt.Errorf("%w: %s starts at LSN %d, the previous segment ends at %d", ErrCorrupt, f.path, f.first, s.next-1)
		}
		if i == 0 && f.first > s.acked+1 {
			// Every record before it was acknowledged and deleted; the marker
			// is behind (it is saved before deletion, so this is only a
			// marker restored from an older copy).
			s.log.Warn("spool: acked marker behind the first segment; records before it were acknowledged",
				zap.String("dir", s.o.Dir), zap.Uint64("acked", s.acked), zap.Uint64("first", f.first))
			s.acked = f.first - 1
		}
		seg, err := s.loadSegment(f.path, f.first, i == len(files)-1, replay)
		if err != nil {
			return err
		}
		seg.written = now
		s.segs = append(s.segs, seg)
		s.next = seg.last + 1
	}
	if s.acked >= s.next {
		return fmt.Errorf("%w: %s: acked marker %d is beyond the last record %d", ErrCorrupt, filepath.Join(s.o.Dir, "acked"), s.acked, s.next-1)
	}
	s.durable = s.next - 1
	return nil
}

// loadSegment checks one segment file and replays its records.
func (s *Spool) loadSegment(path string, first uint64, last bool, replay func(uint64, []byte) error) (*segment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spool: reading %s: %w", path, err)
	}
	seg := &segment{first: first, last: first - 1, path: path}
	off := 0
	for off < len(data) {
		lsn, payload, n, err := decodeRecord(data[off:])
		if err != nil {
			if last && tornTail(data[off:], err) {
				s.log.Warn("spool: torn tail dropped (the last write before a crash did not finish)",
					zap.String("file", path), zap.Int("offset", off), zap.Int("bytes", len(data)-off), zap.Error(err))
				if err := os.Truncate(path, int64(off)); err != nil {
					return nil, fmt.Errorf("spool: cutting the torn tail of %s at %d: %w", path, off, err)
				}
				break
			}
			return nil, fmt.Errorf("%w: %s offset %d: %v", ErrCorrupt, path, off, err)
		}
		if lsn != seg.last+1 {
			return nil, fmt.Errorf("%w: %s offset %d: LSN %d where %d was expected", ErrCorrupt, path, off, lsn, seg.last+1)
		}
		if replay != nil {
			if err := replay(lsn, payload); err != nil {
				return nil, fmt.Errorf("spool: replaying %s offset %d (LSN %d): %w", path, off, lsn, err)
			}
		}
		if lsn > s.acked {
			s.sizes = append(s.sizes, int32(n))
			s.unacked += int64(n)
		}
		seg.last = lsn
		off += n
	}
	seg.size = int64(off)
	return seg, nil
}

// tornTail reports whether a record that failed with err at the start of
// rest is an unfinished last write rather than damage (docs/relay.md §1.3).
func tornTail(rest []byte, err error) bool {
	if errors.Is(err, errShort) || allZero(rest) {
		return true
	}
	if errors.Is(err, errChecksum) {
		return HeaderLen+int(binary.LittleEndian.Uint32(rest[4:8])) == len(rest)
	}
	return false
}

func loadID(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 8 {
			return 0, fmt.Errorf("%w: %s: %d bytes, want 8", ErrCorrupt, path, len(b))
		}
		return binary.LittleEndian.Uint64(b), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("spool: reading %s: %w", path, err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return 0, fmt.Errorf("spool: incarnation id: %w", err)
	}
	if err := writeFileSync(path, id[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(id[:]), nil
}

func loadAcked(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("spool: reading %s: %w", path, err)
	}
	if len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0, fmt.Errorf("%w: %s: bad acked marker", ErrCorrupt, path)
	}
	return binary.LittleEndian.Uint64(b), nil
}

// writeFileSync replaces path atomically and durably.
func writeFileSync(path string, data []byte) error {
	if err := jsonfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ID is the spool's incarnation (docs/relay.md §1.1).
func (s *Spool) ID() uint64 { return s.id }

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.o.Dir }

// Append queues payload as the next record and returns at once; done is
// called, from the writer goroutine (or at once on error), with the record's
// LSN after it is durable, or with an error. An append that does not fit
// under MaxBytes waits until Ack frees room. payload is copied.
func (s *Spool) Append(payload []byte, done func(lsn uint64, err error)) {
	s.AppendDeferred(payload, done)
	s.Flush()
}

// AppendDeferred is Append without waking the writer: the record is written
// at the next Flush (or with the next Append), so that the records of one
// burst share one fsync.
func (s *Spool) AppendDeferred(payload []byte, done func(lsn uint64, err error)) {
	s.mu.Lock()
	if s.closed || s.err != nil {
		err := s.err
		if s.closed {
			err = ErrClosed
		}
		s.mu.Unlock()
		done(0, err)
		return
	}
	full := false
	if len(s.waiting) == 0 && s.fits(recordLen(len(payload))) {
		s.admit(payload, done)
	} else {
		full = len(s.waiting) == 0
		s.waiting = append(s.waiting, waiter{payload: append([]byte(nil), payload...), done: done})
	}
	unacked := s.unacked
	s.mu.Unlock()
	if full {
		s.log.Warn("spool full: holding appends (their masters wait) until the sink acknowledges",
			zap.String("dir", s.o.Dir), zap.Int64("unacked_bytes", unacked), zap.Int64("capacity_bytes", s.o.MaxBytes))
	}
}

// Flush wakes the writer for what AppendDeferred queued.
func (s *Spool) Flush() { s.wake() }

// fits reports whether a record of n bytes may be admitted. Caller holds mu.
func (s *Spool) fits(n int) bool { return s.unacked == 0 || s.unacked+int64(n) <= s.o.MaxBytes }

// admit numbers and queues a record. Caller holds mu.
func (s *Spool) admit(payload []byte, done func(uint64, error)) {
	lsn := s.next
	s.next++
	n := recordLen(len(payload))
	s.queue = appendRecord(s.queue, lsn, payload)
	s.queueCBs = append(s.queueCBs, queued{lsn: lsn, done: done})
	s.sizes = append(s.sizes, int32(n))
	s.unacked += int64(n)
}

func (s *Spool) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Ack records that every record with an LSN up to lsn is acknowledged by the
// sink; their bytes no longer count against MaxBytes. Waiting appends that
// now fit are admitted. An lsn beyond the durable end is clamped to it.
func (s *Spool) Ack(lsn uint64) {
	s.mu.Lock()
	lsn = min(lsn, s.durable)
	if lsn <= s.acked {
		s.mu.Unlock()
		return
	}
	k := int(lsn - s.acked)
	for _, n := range s.sizes[:k] {
		s.unacked -= int64(n)
	}
	s.sizes = s.sizes[k:]
	s.acked = lsn
	held := len(s.waiting) > 0
	for len(s.waiting) > 0 && s.fits(recordLen(len(s.waiting[0].payload))) {
		w := s.waiting[0]
		s.waiting[0] = waiter{}
		s.waiting = s.waiting[1:]
		s.admit(w.payload, w.done)
	}
	room := held && len(s.waiting) == 0
	s.mu.Unlock()
	s.wake()
	if room {
		s.log.Info("spool has room again: held appends admitted", zap.String("dir", s.o.Dir))
	}
}

// Acked is the highest acknowledged LSN.
func (s *Spool) Acked() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// Durable is the highest LSN on disk.
func (s *Spool) Durable() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.durable
}

// Last is the highest LSN assigned: durable, or queued for the writer
// (appends held back for room have none yet).
func (s *Spool) Last() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next - 1
}

// Notify returns a channel closed when the durable end next advances (or
// the spool closes). Take it before reading to the end, then wait on it.
func (s *Spool) Notify() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

// Bytes is the unacknowledged bytes (the dupbridge_spool_bytes gauge).
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unacked
}

// Capacity is Options.MaxBytes (the dupbridge_spool_capacity_bytes gauge).
func (s *Spool) Capacity() int64 { return s.o.MaxBytes }

// Waiting is the number of appends held back because the spool is full.
func (s *Spool) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)
}

// Close writes what is queued, saves the acked marker and stops. Appends
// still waiting for room get ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	waiting := s.waiting
	s.waiting = nil
	s.mu.Unlock()
	for _, w := range waiting {
		w.done(0, ErrClosed)
	}
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.notify)
	s.notify = make(chan struct{})
	return s.err
}
