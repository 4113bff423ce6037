// Package keyorder keeps last-write-wins order per key on the way to the
// follower.
//
// A master replica ships one round of writes as several duplicate requests,
// queued by the hash of each request's last entry and sent concurrently, and
// it resends a failed request after 1 s while later requests of other queues
// go on (duplication.md §3.7, §7 item 7). Two requests of one round that
// touch the same key can therefore reach the follower in the wrong order,
// and a retried older request can overwrite a newer value; the follower does
// not correct it because the master never sets verify_timetag (§4.4).
//
// A Guard remembers, per key, the timetag (timestamp << 8 | cluster_id << 1,
// duplication.md §4.3) of the newest write already handed to the follower,
// and drops a write whose timetag is strictly older: the newer value stays,
// exactly what the follower's own verify_timetag rule would decide, and it
// also covers deletes, which carry no timetag on the follower. Equal
// timetags are admitted in arrival order (a retransmission, or several
// updates of one mutation).
//
// Memory is bounded: keys are kept in two generations that rotate every
// Window/2 or when the current one holds MaxKeys/2 keys; a key not written
// for longer than that is forgotten (and counted), after which an older
// write of it would be admitted again. The reordering above spans at most a
// round plus the master's retry delay, far less than the default window.
// A generation is a pointer-free open-addressing table plus a key arena
// (table.go): one hash per key, no allocation per key (the arrays grow by
// doubling), and the key bytes compared on every hash match, so that a
// decision never rests on a hash.
package keyorder

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Guard.
type Options struct {
	// Window is how long a key is remembered at least (default 10 min).
	Window time.Duration
	// MaxKeys bounds the keys remembered (default 4,000,000).
	MaxKeys int
	// Shards splits the maps to reduce lock contention (default 64).
	Shards int
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Stats are the guard's counters.
type Stats struct {
	Admitted   int64 `json:"admitted"`
	Superseded int64 `json:"superseded"` // writes dropped: an newer one was already forwarded
	Keys       int64 `json:"keys"`       // keys remembered now
	Rotations  int64 `json:"rotations"`
	Forgotten  int64 `json:"forgotten"` // keys dropped from memory by rotation
}

// Guard is safe for concurrent use.
type Guard struct {
	o      Options
	seed   maphash.Seed
	shards []shard

	admitted, superseded, rotations, forgotten atomic.Int64
}

// shard holds two generations (table.go).
type shard struct {
	mu        sync.Mutex
	cur, prev generation
	rotatedAt time.Time
}

// maxArena bounds one generation's key bytes (slot offsets are 32 bits);
// a shard whose keys reach it rotates early.
const maxArena = 1 << 30

// New returns a Guard.
func New(o Options) *Guard {
	if o.Window <= 0 {
		o.Window = 10 * time.Minute
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 4_000_000
	}
	if o.Shards <= 0 {
		o.Shards = 64
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Guard{o: o, seed: maphash.MakeSeed(), shards: make([]shard, o.Shards)}
	now := o.Now()
	for i := range g.shards {
		g.shards[i].cur = newGeneration(0, 0)
		g.shards[i].prev = newGeneration(0, 0)
		g.shards[i].rotatedAt = now
	}
	return g
}

// Timetag is the ordering value of a write: its timestamp in µs and the
// cluster id that made it, without the delete bit (duplication.md §4.3).
func Timetag(timestampUs int64, clusterID int8) uint64 {
	return uint64(timestampUs)<<8 | uint64(uint8(clusterID)&0x7f)<<1
}

// Admit reports whether a write of key (a raw key, storage.md §3.1) with
// timetag tt may go to the follower, and if so records it as the newest.
// scope separates tables (e.g. the follower app id). It allocates only when
// it remembers a new key.
func (g *Guard) Admit(scope uint32, key []byte, tt uint64) bool {
	ok, _ := g.decide(scope, key, tt, true, g.o.Now())
	return ok
}

// AdmitAt is Admit with the clock read by the caller: one reading serves
// every entry of a request (the clock only decides when generations
// rotate).
func (g *Guard) AdmitAt(scope uint32, key []byte, tt uint64, now time.Time) bool {
	ok, _ := g.decide(scope, key, tt, true, now)
	return ok
}

// Older reports whether a write of key with timetag tt is older than the
// newest one already forwarded, without recording anything: for writes that
// must not crowd the memory out, such as the keys of a checkpoint load
// (which carry verify_timetag, so the follower orders them itself), and
// that are still dropped when a newer write, a delete included, went first.
func (g *Guard) Older(scope uint32, key []byte, tt uint64) bool {
	ok, _ := g.decide(scope, key, tt, false, g.o.Now())
	return !ok
}

// admitTied is AdmitAt that also reports a tie (see decide).
func (g *Guard) admitTied(scope uint32, key []byte, tt uint64, now time.Time) (ok, tied bool) {
	return g.decide(scope, key, tt, true, now)
}

// peek is admitTied without recording, rotating or counting (Peek).
func (g *Guard) peek(scope uint32, key []byte, tt uint64, _ time.Time) (ok, tied bool) {
	var buf [256]byte
	k, h, s := g.locate(scope, key, &buf)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, last, known := s.lookup(h, k)
	return !known || last <= tt, known && last == tt
}

// locate builds the scoped key (on the stack for ordinary key sizes), its
// hash and its shard.
func (g *Guard) locate(scope uint32, key []byte, buf *[256]byte) ([]byte, uint64, *shard) {
	k := append(append(buf[:0], byte(scope), byte(scope>>8), byte(scope>>16), byte(scope>>24)), key...)
	h := maphash.Bytes(g.seed, k)
	s := &g.shards[(h>>32)%uint64(len(g.shards))]
	return k, h | 1, s // slot.h 0 means empty
}

// lookup finds a scoped key: its slot in the current generation (ci, when
// inCur) and the newest timetag remembered for it. Caller holds s.mu.
func (s *shard) lookup(h uint64, k []byte) (ci int, inCur bool, last uint64, known bool) {
	ci, inCur = s.cur.find(h, k)
	if inCur {
		return ci, true, s.cur.slots[ci].tt, true
	}
	if pi, inPrev := s.prev.find(h, k); inPrev {
		return ci, false, s.prev.slots[pi].tt, true
	}
	return ci, false, 0, false
}

// decide is AdmitAt, recording the write only when record is set; tied also
// reports that the newest write already admitted for the key has the same
// timetag (two updates of one mutation, or a retransmission): their order
// cannot be told from timetags. Only remembering a new key may allocate (a
// generation's arrays growing).
func (g *Guard) decide(scope uint32, key []byte, tt uint64, record bool, now time.Time) (ok, tied bool) {
	var buf [256]byte
	k, h, s := g.locate(scope, key, &buf)
	s.mu.Lock()
	defer s.mu.Unlock()
	g.maybeRotate(s, len(k), now)
	ci, inCur, last, known := s.lookup(h, k)
	if known && last > tt {
		g.superseded.Add(1)
		return false, false
	}
	tied = known && last == tt
	if !record {
		return true, tied
	}
	switch {
	case !inCur:
		s.cur.insert(ci, h, k, tt)
	case tt > last:
		s.cur.slots[ci].tt = tt
	}
	g.admitted.Add(1)
	return true, tied
}

func (g *Guard) maybeRotate(s *shard, keyLen int, now time.Time) {
	perShard := g.o.MaxKeys / 2 / len(g.shards)
	if perShard < 1 {
		perShard = 1
	}
	if now.Sub(s.rotatedAt) < g.o.Window/2 && s.cur.n < perShard && len(s.cur.keys)+keyLen <= maxArena {
		return
	}
	g.forgotten.Add(int64(s.prev.n))
	s.prev, s.cur = s.cur, newGeneration(s.cur.n, len(s.cur.keys))
	s.rotatedAt = now
	g.rotations.Add(1)
}

// Stats returns a snapshot of the counters.
func (g *Guard) Stats() Stats {
	st := Stats{
		Admitted: g.admitted.Load(), Superseded: g.superseded.Load(),
		Rotations: g.rotations.Load(), Forgotten: g.forgotten.Load(),
	}
	for i := range g.shards {
		s := &g.shards[i]
		s.mu.Lock()
		st.Keys += int64(s.cur.n + s.prev.n)
		s.mu.Unlock()
	}
	return st
}
