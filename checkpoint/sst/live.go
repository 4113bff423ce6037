package sst

import (
	"time"

	"github.com/dupbridge/dupbridge/mutation"
)

// LiveOptions choose which keys Live yields.
type LiveOptions struct {
	// Now is the time expiry is judged at (storage.md §4.3); zero keeps
	// expired values.
	Now time.Time
	// PartitionCount > 0 keeps only keys whose pegasus_key_hash maps to
	// PartitionIndex (storage.md §3.4): a split partition's checkpoint
	// still holds its sibling's keys until compaction removes them.
	PartitionIndex, PartitionCount int
	// Start, when set, skips every raw key below it: a load that stopped
	// after key k resumes with Start = k plus a zero byte.
	Start []byte
}

// Stats count what a Live iteration has read and dropped so far.
type Stats struct {
	Entries        uint64 `json:"entries"`         // every table entry read
	Shadowed       uint64 `json:"shadowed"`        // older versions hidden by a newer one of the same key
	Deleted        uint64 `json:"deleted"`         // keys whose newest version is a deletion
	Expired        uint64 `json:"expired"`         // keys whose newest value is expired at Now
	ShortKeys      uint64 `json:"short_keys"`      // keys under 2 bytes (Pegasus's empty-write records)
	OtherPartition uint64 `json:"other_partition"` // keys of another partition
	Live           uint64 `json:"live"`            // keys yielded
	LiveKeyBytes   uint64 `json:"live_key_bytes"`
	LiveValueBytes uint64 `json:"live_value_bytes"` // raw RocksDB values, envelope included
	MinSeq         uint64 `json:"min_seq"`          // over every entry read
	MaxSeq         uint64 `json:"max_seq"`
}

// Live iterates the live Pegasus keys of a checkpoint in raw-key order
// (RocksDB's bytewise order): for each user key the version with the
// highest sequence number across all data tables, unless it is a deletion,
// a key under 2 bytes, expired at Now, or of another partition. Key, Value
// and the decoded fields are valid until the next call to Next.
type Live struct {
	m        *mergeIter
	opt      LiveOptions
	now      int64
	version  int
	last     []byte // user key of the previous decision (owned copy)
	started  bool
	yielded  bool
	key      []byte
	val      []byte
	v        mutation.Value
	stats    Stats
	err      error
	finished bool
}

// Live starts an iteration over the data tables.
func (c *Checkpoint) Live(opt LiveOptions) *Live {
	its := c.iters(c.Data)
	if opt.Start != nil {
		for _, it := range its {
			it.SeekGE(opt.Start)
		}
	}
	l := &Live{m: newMergeIter(its), opt: opt, version: c.DataVersion}
	if !opt.Now.IsZero() {
		l.now = opt.Now.Unix()
	}
	l.stats.MinSeq = ^uint64(0)
	return l
}

// Next advances to the next live key; false at the end or on error.
func (l *Live) Next() bool {
	if l.finished {
		return false
	}
	// The yielded key and value live in the top table's block buffers, so
	// that table is only advanced on the following call.
	if l.yielded {
		l.m.next()
		l.yielded = false
	}
	for it := l.m.top(); it != nil; it = l.m.top() {
		ok, err := l.decide(it)
		if err != nil {
			return l.fail(err)
		}
		if ok {
			l.yielded = true
			return true
		}
		l.m.next()
	}
	return l.fail(l.m.err)
}

// decide looks at one table entry: an older version of the previous key
// is counted and passed over; the newest version of a key is judged.
func (l *Live) decide(it *Iter) (bool, error) {
	s := &l.stats
	s.Entries++
	s.MinSeq, s.MaxSeq = min(s.MinSeq, it.seq), max(s.MaxSeq, it.seq)
	if l.started {
		switch c := compareUserKeys(it.key, l.last); {
		case c == 0:
			s.Shadowed++
			return false, nil
		case c < 0:
			return false, corruptf(it.t.path, int64(it.dh.off), "key %x sorts before the previous key %x", it.key, l.last)
		}
	}
	l.last, l.started = append(l.last[:0], it.key...), true
	switch {
	case it.kind.IsDeletion():
		s.Deleted++
		return false, nil
	case it.kind != KindValue:
		return false, unsupportedf(it.t.path, int64(it.dh.off), "entry of kind %#x (merge, blob or wide-column entries are not Pegasus data)", uint8(it.kind))
	case len(it.key) < 2:
		s.ShortKeys++
		return false, nil
	}
	if l.opt.PartitionCount > 0 && mutation.PartitionIndex(mutation.KeyHash(it.key), l.opt.PartitionCount) != l.opt.PartitionIndex {
		s.OtherPartition++
		return false, nil
	}
	v, err := mutation.ParseValue(it.Value(), l.version)
	if err != nil {
		return false, &FileError{File: it.t.path, Offset: int64(it.dh.off), Class: ErrCorrupt, Msg: "value of key " + hexKey(it.key), Err: err}
	}
	if l.now != 0 && mutation.Expired(v.ExpireTs, l.now) {
		s.Expired++
		return false, nil
	}
	l.key, l.val, l.v = it.key, it.Value(), v
	s.Live++
	s.LiveKeyBytes += uint64(len(it.key))
	s.LiveValueBytes += uint64(len(l.val))
	return true, nil
}

func hexKey(k []byte) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 2*len(k))
	for _, c := range k {
		b = append(b, digits[c>>4], digits[c&15])
	}
	return string(b)
}

func (l *Live) fail(err error) bool {
	l.err, l.finished = err, true
	l.key, l.val = nil, nil
	return false
}

// Key is the raw Pegasus key: u16-BE hash-key length ‖ hash key ‖ sort key.
func (l *Live) Key() []byte { return l.key }

// Value is the raw RocksDB value, schema envelope included (storage.md §4).
func (l *Live) Value() []byte { return l.val }

// HashKey and SortKey split Key (storage.md §3.1).
func (l *Live) HashKey() []byte { return l.key[2 : 2+hashKeyLen(l.key)] }

// SortKey is everything after the hash key.
func (l *Live) SortKey() []byte { return l.key[2+hashKeyLen(l.key):] }

func hashKeyLen(k []byte) int { return min(int(k[0])<<8|int(k[1]), len(k)-2) }

// UserData is the value without its envelope.
func (l *Live) UserData() []byte { return l.v.UserData }

// SchemaVersion is the value's schema version (0, 1 or 2).
func (l *Live) SchemaVersion() int { return l.v.Version }

// ExpireTs is the raw expire_ts: seconds since 2016-01-01, 0 = never.
func (l *Live) ExpireTs() uint32 { return l.v.ExpireTs }

// ExpireUnix is the expiry as Unix seconds, 0 = never.
func (l *Live) ExpireUnix() int64 {
	if l.v.ExpireTs == 0 {
		return 0
	}
	return int64(l.v.ExpireTs) + mutation.EpochBegin
}

// Timetag is the value's timetag, 0 for schema v0.
func (l *Live) Timetag() uint64 { return l.v.Timetag }

// TimestampUs is the timetag's write time in microseconds.
func (l *Live) TimestampUs() uint64 { ts, _, _ := mutation.SplitTimetag(l.v.Timetag); return ts }

// ClusterID is the timetag's cluster id.
func (l *Live) ClusterID() uint8 { _, id, _ := mutation.SplitTimetag(l.v.Timetag); return id }

// Stats returns the counts so far.
func (l *Live) Stats() Stats {
	s := l.stats
	if s.Entries == 0 {
		s.MinSeq = 0
	}
	return s
}

// BytesRead is how far the iteration has got through the data tables: the
// sum over tables of the end offset of the block being read. Against
// Checkpoint.DataBytes it makes a progress bar.
func (l *Live) BytesRead() int64 {
	var n int64
	for _, it := range l.m.all {
		n += it.Offset()
	}
	return n
}

// Err is the error that ended the iteration, nil after a clean end.
func (l *Live) Err() error { return l.err }

// Close releases the table iterators; the Checkpoint stays open.
func (l *Live) Close() { l.m.close() }
