package server

import (
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/keyorder"
	"github.com/dupbridge/dupbridge/mutation"
)

// The replica face: RPC_RRDB_RRDB_DUPLICATE from a master replica server's
// duplicator (wire.md §4.6; design.md steps 3-6).

// ErrTryAgain is the RocksDB status code TryAgain (13). The bridge answers
// it, with a hint, for everything a master should simply resend: the master
// retries any non-zero error after 1 s, except 4 (kInvalidArgument), which
// aborts its replica server (duplication.md §4.7), so 4 is never sent.
const ErrTryAgain = 13

// bodySlack keeps each outgoing body this far below the follower's write
// limit, for the framing around it (THFT TMessage header, wire.md §2.3).
const bodySlack = 256

// entryRef is one validated entry of the request being split. raw aliases
// gnet's buffer and is cleared before the callback returns.
type entryRef struct {
	raw  []byte
	size int // upper bound of its bytes in the outgoing body (raw, or marked)
	hash uint64
	ts   int64
	pidx int
	e    mutation.DupEntry // for the per-key order guard (keyorder)
}

// partBuild accumulates one follower partition's entries.
type partBuild struct {
	pidx        int
	total       int // bytes (entryRef.size) of this partition's entries not yet written
	left        int // entries of this partition not yet written
	hashes      []uint64
	tied        []int // entry indexes (keyorder.Guard.FilterTied)
	w           mutation.DupRequestWriter
	open        bool
	first, last int64
	hash        uint64
}

// pendingDup is a master's duplicate request waiting for its parts' acks.
// Its fields are written on the event loop before the first Ship; the done
// callbacks then run on any goroutine and touch only the atomics, except
// the one that brings remaining to 0, which builds and posts the reply.
type pendingDup struct {
	s         *Server
	cs        *connState
	reply     []byte // response header, built on the loop (beginLater)
	mark      int
	bytes     int64 // charged against the in-flight cap
	table     string
	ts        *tableState
	entries   int64 // shipped in the parts (in flight until the reply)
	lastTs    int64 // newest master timestamp among them, µs
	remaining atomic.Int32
	failed    atomic.Bool
	skipped   atomic.Int32
	hint      string // set by the callback that wins failed's CAS
	// list holds p from shipping to answer, since is when it joined it,
	// prev and next are its neighbours (guarded by list.mu): readiness.
	list       *pendingList
	since      time.Time
	prev, next *pendingDup
}

// partDone is the done callback of every part of p. Any goroutine.
func (p *pendingDup) partDone(r PartResult) {
	switch r.Status {
	case PartAcked:
	case PartSkipped:
		p.skipped.Add(1)
		p.s.stats.partsSkipped.Add(1)
	default:
		p.s.stats.partsFailed.Add(1)
		if p.failed.CompareAndSwap(false, true) {
			p.hint = fmt.Sprintf("dupbridge: follower did not apply a part of table %s: %v", p.table, r.Err)
		}
	}
	if p.remaining.Add(-1) != 0 {
		return
	}
	s := p.s
	p.ts.inflightEntries.Add(-p.entries)
	if !p.failed.Load() {
		p.ts.ackedUpTo(p.lastTs)
	}
	var reply []byte
	if p.failed.Load() {
		s.stats.dupRetryable.Add(1)
		reply = mutation.AppendDupResponse(p.reply, 0, ErrTryAgain, p.hint)
	} else {
		s.stats.dupAcked.Add(1)
		reply = mutation.AppendDupResponse(p.reply, 0, 0, "")
	}
	p.cs.post(codec.FinishResponse(reply, p.mark))
	p.list.remove(p)
	s.stats.inflightRequests.Add(-1)
	s.releaseFor(p.cs, p.bytes)
}

// replyRetryable answers f at once with RPC-level ERR_OK and
// duplicate_response{error: 13, error_hint: hint}. Event-loop only.
func (cs *connState) replyRetryable(f *codec.Frame, hint string) {
	cs.s.stats.dupRetryable.Add(1)
	b, mark := codec.BeginResponse(cs.wbuf, f, codec.ErrorOK, cs.s.from)
	b = mutation.AppendDupResponse(b, 0, ErrTryAgain, hint)
	cs.wbuf = codec.FinishResponse(b, mark)
}

// refusal is why a duplicate request is answered a retryable error before
// anything of it is shipped: its cause (counted), the hint the master
// logs, and, when log is set, the warning the bridge logs.
type refusal struct {
	cause  refuseCause
	hint   string
	log    string
	fields []zap.Field
}

// refuse is the one refuse-count-log-reply step of the replica face.
// Event-loop only.
func (cs *connState) refuse(f *codec.Frame, ts *tableState, r *refusal) {
	ts.m.refused[r.cause].Inc()
	if r.log != "" {
		cs.s.log.Warn(r.log, append([]zap.Field{zap.String("remote", cs.remote), zap.String("table", ts.cfg.Name)}, r.fields...)...)
	}
	cs.replyRetryable(f, r.hint)
}

// onDuplicate admits, validates, splits and ships one duplicate request.
// It returns false, leaving the frame undecoded in gnet's buffer, when the
// in-flight cap is reached. f aliases gnet's buffer: entries are copied
// exactly once, into the parts' bodies. Event-loop only.
func (cs *connState) onDuplicate(f *codec.Frame, size int) bool {
	s := cs.s
	ts := s.tabs().byAppID[f.AppID]
	if ts == nil {
		// Like a replica that does not host the gpid (wire.md §4.5): the
		// master's resolver refreshes its config and resends.
		s.stats.dupRetryable.Add(1)
		s.metrics.unknownRPCs.Inc()
		s.metrics.unknownTable.Inc()
		cs.replyNow(f, codec.ErrorObjectNotFound, nil)
		return true
	}
	est, ok := cs.admit(size)
	if !ok {
		return false
	}
	ts.m.rpcs.Inc()
	shipped := false
	defer func() {
		if !shipped {
			s.releaseFor(cs, est)
		}
	}()

	count, r := cs.precheck(f, ts)
	if r != nil {
		cs.refuse(f, ts, r)
		return true
	}
	now := time.Now() // one clock reading for the lag and the order guard
	entries, moved, r := cs.validate(f, ts, count, now)
	defer func() {
		clear(entries) // drop references into gnet's buffer
		cs.entries = entries[:0]
	}()
	if r != nil {
		cs.refuse(f, ts, r)
		return true
	}
	if len(entries) == 0 {
		cs.ackNow(f)
		return true
	}
	if moved > 0 {
		ts.m.moved.Add(float64(moved)) // validated entries, superseded or not, like dup_entries
	}
	// The per-key order guard (keyorder) decides, entry by entry, whether a
	// newer write of the same key was already handed to the follower; the
	// decisions and the Ship calls of one table form one sequence, so that
	// what the guard admitted is also what reaches each partition queue
	// first. The lock is held for the copy into the parts and the
	// non-blocking Ship calls only.
	ts.shipMu.Lock()
	defer ts.shipMu.Unlock()
	parts := cs.split(ts, entries, count, now)
	if len(parts) == 0 {
		// Every entry was superseded by newer writes already forwarded:
		// nothing to apply, and the master may go on.
		s.stats.dupEntries.Add(int64(len(entries)))
		cs.ackNow(f)
		return true
	}
	cs.ship(f, ts, parts, est, len(entries))
	shipped = true
	return true
}

// ackNow answers f at once with error 0. Event-loop only.
func (cs *connState) ackNow(f *codec.Frame) {
	cs.s.stats.dupAcked.Add(1)
	cs.replyNow(f, codec.ErrorOK, mutation.AppendDupResponse(nil, 0, 0, ""))
}

// admit reserves room for a request of size bytes under the in-flight cap
// (design.md "Bounded memory": the frame's size bounds what its parts will
// hold). When there is none it stalls the connection and reports false.
// Event-loop only.
func (cs *connState) admit(size int) (int64, bool) {
	s := cs.s
	est := int64(size) + 256
	if !s.reserve(cs, est) {
		if !cs.stalled() {
			s.stats.stalls.Add(1)
		}
		cs.setStalled(true)
		s.block(cs)
		// A release may have run between the failed reservation and
		// block(): try once more so that no wake-up is lost.
		if !s.reserve(cs, est) {
			return 0, false
		}
	}
	cs.setStalled(false)
	return est, true
}

// precheck refuses a request the table cannot take now, whatever its
// entries: paused or removed table, unknown follower layout, unsupported
// serialization. It returns the follower's partition count. Event-loop only.
func (cs *connState) precheck(f *codec.Frame, ts *tableState) (int, *refusal) {
	if r := ts.refusing(); r != nil {
		return 0, r
	}
	count := cs.s.shipper.PartitionCount(ts.cfg.Name)
	if count <= 0 {
		return 0, &refusal{cause: causeNoLayout, hint: "dupbridge: follower layout of table " + ts.cfg.Name + " is not known yet"}
	}
	if f.Framing == codec.FramingRDSN && f.SerializeFormat() != codec.SerializeThriftBinary {
		return 0, &refusal{cause: causeMalformed, hint: fmt.Sprintf("dupbridge: unsupported serialize_format %d", f.SerializeFormat())}
	}
	return count, nil
}

// validate checks every entry before anything is shipped, and routes each
// by its own key into cs.byPart. It returns the entries (aliasing gnet's
// buffer) and how many the master's gpid would have misplaced; now is the
// clock the lags are measured against. Event-loop only.
func (cs *connState) validate(f *codec.Frame, ts *tableState, count int, now time.Time) (entries []entryRef, moved int, r *refusal) {
	s := cs.s
	entries = cs.entries[:0]
	malformed := func(what string, err error) *refusal {
		return &refusal{cause: causeMalformed, hint: "dupbridge: " + what + ": " + err.Error(), log: what, fields: []zap.Field{zap.Error(err)}}
	}
	it, err := mutation.NewDupIter(f.Body)
	if err != nil {
		return entries, 0, malformed("malformed duplicate_request", err)
	}
	clear(cs.byPart)
	// dup_requests, dup_time_lag_ms and dup_lagging_writes count every
	// entry read, like Pegasus's follower (pegasus_write_service::duplicate):
	// before its checks, and the lag only when the clock is past the
	// entry's timestamp. The lags are tallied here and, like the counters,
	// added to the table's metrics once per request.
	tm := ts.m
	nowUs, lagUs := now.UnixMicro(), s.lagUs.Load()
	received, lagging, lags := 0, 0, tm.lag.tally()
	defer func() { tm.received(received, lagging, &lags) }()
	var e mutation.DupEntry
	for it.Next(&e) {
		received++
		if lag := nowUs - e.Timestamp; lag > 0 {
			lags.observe(lag)
			if lag > lagUs {
				lagging++
			}
		}
		if !e.Code().Duplicated() {
			// The follower would answer 4 for it (duplication.md §4.2).
			return entries, 0, &refusal{cause: causeBadTaskCode, hint: fmt.Sprintf("dupbridge: unrecognized task code %q", e.TaskCode),
				log: "duplicate entry with a task code the follower does not apply", fields: []zap.Field{zap.ByteString("task_code", e.TaskCode)}}
		}
		if !e.HasClusterID || !ts.allows(e.ClusterID) {
			return entries, 0, &refusal{cause: causeClusterID,
				hint:   fmt.Sprintf("dupbridge: request cluster id %d is unconfigured or not allowed for table %s", e.ClusterID, ts.cfg.Name),
				log:    "duplicate entry with a cluster id not accepted ([duplication-group], own id, allowed list)",
				fields: []zap.Field{zap.Bool("has_cluster_id", e.HasClusterID), zap.Int8("cluster_id", e.ClusterID)}}
		}
		h, err := e.Hash()
		if err != nil {
			return entries, 0, malformed("malformed entry", err)
		}
		pidx := mutation.PartitionIndex(h, count)
		if pidx != int(f.PartitionIndex) {
			moved++ // the master's routing (its batch's gpid) would have misplaced it
		}
		size := len(e.Raw)
		if ts.marks(&e) && !e.HasVerifyTimetag {
			size += verifyTimetagFieldLen
		}
		entries = append(entries, entryRef{raw: e.Raw, size: size, hash: h, ts: e.Timestamp, pidx: pidx, e: e})
		pb := cs.byPart[pidx]
		if pb == nil {
			pb = cs.partBuild(len(cs.byPart))
			pb.pidx = pidx
			cs.byPart[pidx] = pb
		}
		pb.total += size
		pb.left++
	}
	if err := it.Err(); err != nil {
		return entries, 0, malformed("malformed duplicate_request", err)
	}
	return entries, moved, nil
}

// split copies the entries the per-key order guard keeps into one or more
// bodies per follower partition, in entry order, each under the follower's
// write limit (an entry larger than the limit goes alone), and counts the
// superseded ones; now is the guard's clock. Called with ts.shipMu held.
// Event-loop only.
func (cs *connState) split(ts *tableState, entries []entryRef, count int, now time.Time) []*Part {
	limit := cs.s.opts.WriteLimit - bodySlack
	var parts []*Part
	flush := func(pb *partBuild) {
		body := pb.w.Finish()
		parts = append(parts, &Part{
			Table: ts.cfg.Name, PartitionIndex: pb.pidx, PartitionCount: count, Body: body,
			Entries: pb.w.Len(), PartitionHash: pb.hash, FirstTimestamp: pb.first, LastTimestamp: pb.last,
			Hashes: pb.hashes, Tied: pb.tied,
		})
		pb.open, pb.hashes, pb.tied = false, nil, nil
	}
	superseded := 0
	for i := range entries {
		er := &entries[i]
		verdict, rewritten, tied, err := ts.order.FilterTiedAt(0, &er.e, now)
		if err != nil {
			// validate checked every payload (PayloadHash); keep it whole.
			verdict = keyorder.Keep
		}
		if verdict == keyorder.Drop {
			superseded++
			continue
		}
		pb := cs.byPart[er.pidx]
		if pb.open && pb.w.Size()+er.size+2 > limit {
			flush(pb)
		}
		if !pb.open {
			capacity := min(pb.total, limit) + 16
			pb.w.Begin(make([]byte, 0, capacity), 0)
			pb.hashes = make([]uint64, 0, pb.left) // owned by the Part, like its body
			pb.open = true
			pb.first = er.ts
		}
		cs.appendEntry(ts, pb, er, verdict, rewritten, tied)
	}
	for _, pb := range cs.parts[:len(cs.byPart)] {
		if pb.open {
			flush(pb)
		}
	}
	if superseded > 0 {
		ts.m.superseded.Add(float64(superseded))
	}
	return parts
}

// appendEntry writes er into pb's open body: as received, or re-encoded
// when the guard rewrote it or the bridge marks it verify_timetag.
func (cs *connState) appendEntry(ts *tableState, pb *partBuild, er *entryRef, verdict keyorder.Verdict, rewritten []byte, tied bool) {
	if tied {
		pb.tied = append(pb.tied, pb.w.Len())
	}
	setVerify := ts.marks(&er.e)
	switch {
	case verdict == keyorder.Rewrite || setVerify:
		e2 := er.e
		if verdict == keyorder.Rewrite {
			e2.RawMessage = rewritten
		}
		if setVerify {
			// duplication.md §4.4: the follower keeps the stored value
			// when its timetag is not older.
			e2.VerifyTimetag, e2.HasVerifyTimetag = true, true
		}
		pb.w.AppendEntry(&e2)
	default:
		pb.w.AppendRaw(er.raw)
	}
	pb.total -= er.size
	pb.left--
	pb.last = er.ts
	pb.hash = er.hash
	pb.hashes = append(pb.hashes, er.hash)
}

// ship settles the request's reservation to the bytes its parts hold,
// registers it as pending and hands the parts to the shipper; the last
// part's completion answers the master (pendingDup.partDone). Called with
// ts.shipMu held. Event-loop only.
func (cs *connState) ship(f *codec.Frame, ts *tableState, parts []*Part, est int64, entries int) {
	s := cs.s
	reply, mark := cs.beginLater(f, 32)
	p := &pendingDup{s: s, cs: cs, reply: reply, mark: mark, table: ts.cfg.Name, ts: ts}
	var total int64 = int64(cap(reply))
	for _, pt := range parts {
		total += int64(cap(pt.Body))
		p.entries += int64(pt.Entries)
		p.lastTs = max(p.lastTs, pt.LastTimestamp)
	}
	ts.inflightEntries.Add(p.entries)
	s.inflight.Add(total - est)
	cs.admitted.Add(total - est)
	p.bytes = total
	p.remaining.Store(int32(len(parts)))
	p.list = &ts.pending
	p.list.add(p)
	s.stats.inflightRequests.Add(1)
	s.stats.dupEntries.Add(int64(entries))
	s.stats.dupParts.Add(int64(len(parts)))
	done := p.partDone
	if ds, ok := s.shipper.(DeferredShipper); ok {
		for _, pt := range parts {
			ds.ShipDeferred(pt, done)
		}
		cs.needFlush = true // decodeFrames flushes at the end of the callback
		return
	}
	for _, pt := range parts {
		s.shipper.Ship(pt, done)
	}
}

// verifyTimetagFieldLen is what setting verify_timetag adds to an entry
// that lacks the field: BOOL field header (3 bytes) and value (1).
const verifyTimetagFieldLen = 4

// marks reports whether e is forwarded with verify_timetag set by the
// bridge (the table's verify_timetag, for PUT and MULTI_PUT entries the
// master did not mark; duplication.md §4.4). Any goroutine.
func (ts *tableState) marks(e *mutation.DupEntry) bool {
	return ts.cfg.VerifyTimetag && !e.VerifyTimetag && e.Code().IsPut()
}

// partBuild returns the i-th reusable partition builder. Event-loop only.
func (cs *connState) partBuild(i int) *partBuild {
	for len(cs.parts) <= i {
		cs.parts = append(cs.parts, &partBuild{})
	}
	pb := cs.parts[i]
	*pb = partBuild{}
	return pb
}

func (cs *connState) stalled() bool     { return cs.isStalled }
func (cs *connState) setStalled(v bool) { cs.isStalled = v }

// ackedUpTo records that every entry up to master timestamp tsUs (µs) of a
// request was applied downstream and the master acknowledged. Any goroutine.
func (ts *tableState) ackedUpTo(tsUs int64) {
	for {
		cur := ts.lastAckedUs.Load()
		if tsUs <= cur || ts.lastAckedUs.CompareAndSwap(cur, tsUs) {
			return
		}
	}
}
