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
	remaining atomic.Int32
	failed    atomic.Bool
	skipped   atomic.Int32
	hint      string // set by the callback that wins failed's CAS
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
	var reply []byte
	if p.failed.Load() {
		s.stats.dupRetryable.Add(1)
		reply = mutation.AppendDupResponse(p.reply, 0, ErrTryAgain, p.hint)
	} else {
		s.stats.dupAcked.Add(1)
		reply = mutation.AppendDupResponse(p.reply, 0, 0, "")
	}
	p.cs.post(codec.FinishResponse(reply, p.mark))
	s.stats.inflightRequests.Add(-1)
	s.release(p.bytes)
}

// replyRetryable answers f at once with RPC-level ERR_OK and
// duplicate_response{error: 13, error_hint: hint}. Event-loop only.
func (cs *connState) replyRetryable(f *codec.Frame, hint string) {
	cs.s.stats.dupRetryable.Add(1)
	b, mark := codec.BeginResponse(cs.wbuf, f, codec.ErrorOK, cs.s.from)
	b = mutation.AppendDupResponse(b, 0, ErrTryAgain, hint)
	cs.wbuf = codec.FinishResponse(b, mark)
}

// reserve takes n bytes of the in-flight budget, or reports false when they
// do not fit. A request larger than the whole cap is admitted alone, so that
// no frame the decoder accepts can stall forever. Any goroutine.
func (s *Server) reserve(n int64) bool {
	for {
		cur := s.inflight.Load()
		if cur > 0 && cur+n > s.maxInflight {
			return false
		}
		if s.inflight.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// onDuplicate validates, splits and ships one duplicate request. It returns
// false, leaving the frame undecoded in gnet's buffer, when the in-flight
// cap is reached. f aliases gnet's buffer: entries are copied exactly once,
// into the parts' bodies. Event-loop only.
func (cs *connState) onDuplicate(f *codec.Frame, size int) bool {
	s := cs.s
	ts := s.byAppID[f.AppID]
	if ts == nil {
		// Like a replica that does not host the gpid (wire.md §4.5): the
		// master's resolver refreshes its config and resends.
		s.stats.dupRequests.Add(1)
		s.stats.unknownTable.Add(1)
		s.stats.dupRetryable.Add(1)
		s.metrics.unknownRPCs.Inc()
		s.metrics.unknownTable.Inc()
		cs.replyNow(f, codec.ErrorObjectNotFound, nil)
		return true
	}

	// Admission (design.md "Bounded memory"): the frame's size bounds what
	// its parts will hold.
	est := int64(size) + 256
	if !s.reserve(est) {
		if !cs.stalled() {
			s.stats.stalls.Add(1)
		}
		cs.setStalled(true)
		s.block(cs)
		// A release may have run between the failed reservation and
		// block(): try once more so that no wake-up is lost.
		if !s.reserve(est) {
			return false
		}
	}
	cs.setStalled(false)
	s.stats.dupRequests.Add(1)
	tm := ts.m
	tm.rpcs.Inc()

	shipped := false
	defer func() {
		if !shipped {
			s.release(est)
		}
	}()

	if ts.paused.Load() {
		s.stats.paused.Add(1)
		tm.refused[causePaused].Inc()
		cs.replyRetryable(f, "dupbridge: table "+ts.cfg.Name+" is paused")
		return true
	}
	count := s.shipper.PartitionCount(ts.cfg.Name)
	if count <= 0 {
		s.stats.noLayout.Add(1)
		tm.refused[causeNoLayout].Inc()
		cs.replyRetryable(f, "dupbridge: follower layout of table "+ts.cfg.Name+" is not known yet")
		return true
	}
	if f.Framing == codec.FramingRDSN && f.SerializeFormat() != codec.SerializeThriftBinary {
		s.stats.malformed.Add(1)
		tm.refused[causeMalformed].Inc()
		cs.replyRetryable(f, fmt.Sprintf("dupbridge: unsupported serialize_format %d", f.SerializeFormat()))
		return true
	}

	// Pass 1: validate every entry before shipping anything.
	it, err := mutation.NewDupIter(f.Body)
	if err != nil {
		s.stats.malformed.Add(1)
		tm.refused[causeMalformed].Inc()
		s.log.Warn("malformed duplicate_request", zap.String("remote", cs.remote), zap.String("table", ts.cfg.Name), zap.Error(err))
		cs.replyRetryable(f, "dupbridge: malformed duplicate_request: "+err.Error())
		return true
	}
	entries := cs.entries[:0]
	defer func() {
		clear(entries) // drop references into gnet's buffer
		cs.entries = entries[:0]
	}()
	clear(cs.byPart)
	moved := 0
	// dup_requests, dup_time_lag_ms and dup_lagging_writes count every
	// entry read, like Pegasus's follower (pegasus_write_service::duplicate):
	// before its checks, and the lag only when the clock is past the
	// entry's timestamp. One histogram observation per entry; the counters
	// are added once per request.
	nowUs := time.Now().UnixMicro()
	received, lagging := 0, 0
	defer func() { tm.received(received, lagging) }()
	var e mutation.DupEntry
	for it.Next(&e) {
		received++
		if lag := nowUs - e.Timestamp; lag > 0 {
			tm.lag.Observe(float64(lag) / 1e3)
			if lag > s.lagUs {
				lagging++
			}
		}
		code := e.Code()
		if !code.Duplicated() {
			// The follower would answer 4 for it (duplication.md §4.2).
			s.stats.badTaskCode.Add(1)
			tm.refused[causeBadTaskCode].Inc()
			s.log.Warn("duplicate entry with a task code the follower does not apply",
				zap.String("remote", cs.remote), zap.String("table", ts.cfg.Name), zap.ByteString("task_code", e.TaskCode))
			cs.replyRetryable(f, fmt.Sprintf("dupbridge: unrecognized task code %q", e.TaskCode))
			return true
		}
		if !e.HasClusterID || !ts.allows(e.ClusterID) {
			s.stats.clusterIDRej.Add(1)
			tm.refused[causeClusterID].Inc()
			s.log.Warn("duplicate entry with a cluster id not accepted ([duplication-group], own id, allowed list)",
				zap.String("remote", cs.remote), zap.String("table", ts.cfg.Name),
				zap.Bool("has_cluster_id", e.HasClusterID), zap.Int8("cluster_id", e.ClusterID))
			cs.replyRetryable(f, fmt.Sprintf("dupbridge: request cluster id %d is unconfigured or not allowed for table %s", e.ClusterID, ts.cfg.Name))
			return true
		}
		h, err := e.Hash()
		if err != nil {
			s.stats.malformed.Add(1)
			tm.refused[causeMalformed].Inc()
			s.log.Warn("malformed duplicate entry", zap.String("remote", cs.remote), zap.String("table", ts.cfg.Name), zap.Error(err))
			cs.replyRetryable(f, "dupbridge: malformed entry: "+err.Error())
			return true
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
		s.stats.malformed.Add(1)
		tm.refused[causeMalformed].Inc()
		s.log.Warn("malformed duplicate_request", zap.String("remote", cs.remote), zap.String("table", ts.cfg.Name), zap.Error(err))
		cs.replyRetryable(f, "dupbridge: malformed duplicate_request: "+err.Error())
		return true
	}
	if len(entries) == 0 {
		s.stats.dupAcked.Add(1)
		cs.replyNow(f, codec.ErrorOK, mutation.AppendDupResponse(nil, 0, 0, ""))
		return true
	}

	// Pass 2: split into one or more bodies per follower partition, in
	// entry order, each under the follower's write limit; an entry larger
	// than the limit goes alone.
	limit := s.opts.WriteLimit - bodySlack
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
	// The per-key order guard (keyorder) decides, entry by entry, whether a
	// newer write of the same key was already handed to the follower; the
	// decisions and the Ship calls of one table form one sequence, so that
	// what the guard admitted is also what reaches each partition queue
	// first. The lock is held for the copy into the parts and the
	// non-blocking Ship calls only.
	ts.shipMu.Lock()
	defer ts.shipMu.Unlock()
	superseded := 0
	for i := range entries {
		er := &entries[i]
		verdict, rewritten, tied, err := ts.order.FilterTied(0, &er.e)
		if err != nil {
			// Pass 1 validated every payload (PayloadHash); keep it whole.
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
	for _, pb := range cs.parts[:len(cs.byPart)] {
		if pb.open {
			flush(pb)
		}
	}
	s.stats.dupSuperseded.Add(int64(superseded))
	if superseded > 0 {
		tm.superseded.Add(float64(superseded))
	}
	if len(parts) == 0 {
		// Every entry was superseded by newer writes already forwarded:
		// nothing to apply, and the master may go on.
		s.stats.dupAcked.Add(1)
		s.stats.dupEntries.Add(int64(len(entries)))
		cs.replyNow(f, codec.ErrorOK, mutation.AppendDupResponse(nil, 0, 0, ""))
		return true
	}

	reply, mark := cs.beginLater(f, 32)
	p := &pendingDup{s: s, cs: cs, reply: reply, mark: mark, table: ts.cfg.Name}
	var total int64 = int64(cap(reply))
	for _, pt := range parts {
		total += int64(cap(pt.Body))
	}
	// Settle the reservation to the bytes really held.
	s.inflight.Add(total - est)
	shipped = true
	p.bytes = total
	p.remaining.Store(int32(len(parts)))
	s.stats.inflightRequests.Add(1)
	s.stats.dupEntries.Add(int64(len(entries)))
	s.stats.dupParts.Add(int64(len(parts)))
	s.stats.dupMoved.Add(int64(moved))
	if moved > 0 {
		tm.moved.Add(float64(moved))
	}
	done := p.partDone
	if ds, ok := s.shipper.(DeferredShipper); ok {
		for _, pt := range parts {
			ds.ShipDeferred(pt, done)
		}
		cs.needFlush = true // decodeFrames flushes at the end of the callback
		return true
	}
	for _, pt := range parts {
		s.shipper.Ship(pt, done)
	}
	return true
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
