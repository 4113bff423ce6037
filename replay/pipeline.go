package replay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/router"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// The pipelined discipline hands every round to one router.Table (doc.go):
// the router keeps one FIFO per follower partition with up to Window RPCs on
// the wire, key-disjoint, and resends a failed RPC before anything that
// shares a key with it. The rules of order therefore live in one place, and
// a round does not wait for the previous one: the loader only stops when a
// source partition holds more than its in-flight budget unacknowledged.

// openRouter opens the run's follower table for the pipelined discipline.
// A follower error 4 cancels the run with ErrInvalidArgument, as a master
// aborts (wire.md §4.6).
func (r *runner) openRouter(ctx context.Context, meta *rpcclient.Meta, pool *rpcclient.Pool, stop context.CancelCauseFunc) (*router.Table, error) {
	o := &r.o
	return router.New(ctx, router.Options{
		Table:         o.Table,
		Meta:          meta,
		Transport:     router.PoolTransport{Pool: pool},
		Window:        o.Window,
		RPCTimeout:    o.RPCTimeout,
		BackoffMin:    min(10*time.Millisecond, o.RetryDelay),
		BackoffMax:    o.RetryDelay,
		MaxBatchBytes: min(512<<10, o.MaxWriteSize),
		Logger:        o.Logger.Named("router"),
		OnInvalidArgument: func(partition int, err error) {
			stop(fmt.Errorf("%w: follower partition %d: %w", ErrInvalidArgument, partition, err))
		},
	})
}

// openRound is a round whose shipments are not all acknowledged yet.
type openRound struct {
	last                              int64 // the round's last decree
	left                              int   // shipments not yet done
	muts                              int64
	skipped                           Skipped
	entries, bytes, reqBytes, batches int64
}

// inflight is what one source partition has handed to the router and not
// seen acknowledged: rounds in load order and their body bytes. The
// router's done callbacks only count here; the partition's own goroutine
// settles finished rounds (settle), so callbacks never block on the
// progress file.
type inflight struct {
	mu     sync.Mutex
	rounds []*openRound
	bytes  int64
	err    error
	wake   chan struct{} // one pending signal: something completed
}

func (f *inflight) init() { f.wake = make(chan struct{}, 1) }

// done books one shipment's result.
func (f *inflight) done(rd *openRound, size int64, res router.Result) {
	f.mu.Lock()
	rd.left--
	f.bytes -= size
	if res.Status != router.StatusOK && f.err == nil {
		f.err = fmt.Errorf("shipment %s after %d attempts: %w", res.Status, res.Attempts, res.Err)
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// settled pops the finished rounds at the head (load order) and returns
// them with the first shipment error, if any.
func (f *inflight) settled() ([]*openRound, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for n < len(f.rounds) && f.rounds[n].left == 0 {
		n++
	}
	out := append([]*openRound(nil), f.rounds[:n]...)
	f.rounds = f.rounds[n:]
	return out, f.err
}

// settle commits every finished round at the head and reports a shipment
// failure.
func (p *partRunner) settle() error {
	rounds, err := p.pipe.settled()
	for _, rd := range rounds {
		p.commit(rd.last, rd.muts, rd.entries, rd.bytes, rd.reqBytes, rd.batches, rd.skipped)
	}
	return err
}

// waitInflight settles rounds until ok() holds (checked under the lock),
// a shipment fails or ctx ends.
func (p *partRunner) waitInflight(ctx context.Context, ok func(*inflight) bool) error {
	f := &p.pipe
	for {
		if err := p.settle(); err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx) // why the router closed
			}
			return err
		}
		f.mu.Lock()
		done := ok(f)
		f.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-f.wake:
		}
	}
}

// budget is the most body bytes one source partition keeps unacknowledged
// in the pipeline: Window RPCs of the largest request for every follower
// partition would be more than a WAN needs, and memory must stay bounded.
func (r *runner) budget() int64 { return int64(r.o.Window) * int64(r.o.MaxWriteSize) }

// shipPipelined splits the round's tuples (timestamp order) by each
// entry's own key into per-follower-partition requests of up to
// BatchBytes / MaxWriteSize, hands them to the router without waiting, and
// records the round as open.
func (p *partRunner) shipPipelined(ctx context.Context, offered time.Time, last, muts int64, skipped Skipped) error {
	r := p.run
	rd := &openRound{last: last, muts: muts, skipped: skipped}
	ships, err := p.splitRound()
	if err != nil {
		return err
	}
	var size int64
	for _, s := range ships {
		size += int64(len(s.Body))
	}
	lim := r.budget()
	if err := p.waitInflight(ctx, func(f *inflight) bool { return f.bytes == 0 || f.bytes+size <= lim }); err != nil {
		return err
	}
	for _, s := range ships {
		rd.entries += int64(s.Entries)
		rd.reqBytes += int64(len(s.Body))
	}
	rd.batches, rd.bytes = int64(len(ships)), int64(p.roundBytes)
	f := &p.pipe
	f.mu.Lock()
	rd.left = len(ships)
	f.bytes += size
	f.rounds = append(f.rounds, rd)
	open := int64(len(f.rounds))
	f.mu.Unlock()
	p.sum.MaxOpenRounds = max(p.sum.MaxOpenRounds, open)
	for _, s := range ships {
		n, entries := int64(len(s.Body)), int64(s.Entries)
		r.tbl.ShipDeferred(mutation.PartitionIndex(s.PartitionHash, s.PartitionCount), s, func(res router.Result) {
			if res.Status == router.StatusOK {
				r.lat.record(res.Latency)
				r.lag.recordN(time.Since(offered), entries)
			}
			f.done(rd, n, res)
		})
	}
	r.tbl.Flush()
	return nil
}

// drain waits until every round of the partition is acknowledged.
func (p *partRunner) drain(ctx context.Context) error {
	return p.waitInflight(ctx, func(f *inflight) bool { return len(f.rounds) == 0 })
}

// splitRound cuts the round's tuples into router shipments: each entry goes
// to the follower partition of its own key (as the bridge routes, so a
// follower of another partition count gets no misplaced key), in timestamp
// order; a partition's request is closed after the entry that brings it to
// BatchBytes or MaxWriteSize, and the rest at the end of the round, in
// partition order.
func (p *partRunner) splitRound() ([]*router.Shipment, error) {
	r := p.run
	o := &r.o
	count := r.tbl.PartitionCount()
	type open struct {
		w      mutation.DupRequestWriter
		buf    []byte
		hashes []uint64
		bytes  int
		s      *router.Shipment
	}
	cur := make([]*open, count)
	var out []*router.Shipment
	closeOne := func(i int) {
		c := cur[i]
		c.s.Body = c.w.Finish()
		c.s.Entries = len(c.hashes)
		c.s.Hashes = c.hashes
		out = append(out, c.s)
		cur[i] = nil
	}
	p.roundBytes = 0
	p.sortTuples()
	for _, t := range p.tuples {
		data := p.arena[t.off : t.off+t.n]
		h, err := mutation.PayloadHash(t.code, data)
		if err != nil {
			return nil, fmt.Errorf("replay: %s: %s update at timestamp %d: %w", p.path, t.code, t.ts, err)
		}
		i := mutation.PartitionIndex(h, count)
		c := cur[i]
		if c == nil {
			c = &open{s: &router.Shipment{PartitionCount: count, FirstTimestamp: t.ts}}
			c.w.Begin(make([]byte, 0, min(o.BatchBytes, o.MaxWriteSize)+512), r.ship.wrapp)
			cur[i] = c
		}
		c.w.AppendEntry(&mutation.DupEntry{
			Timestamp: t.ts, TaskCode: r.codeName(t.code), RawMessage: data,
			ClusterID: int8(o.ClusterID), HasClusterID: true,
		})
		c.hashes = append(c.hashes, h)
		c.bytes += t.n
		c.s.PartitionHash, c.s.LastTimestamp = h, t.ts
		p.roundBytes += t.n
		if c.bytes >= o.BatchBytes || c.bytes >= o.MaxWriteSize {
			closeOne(i)
		}
	}
	for i := range cur {
		if cur[i] != nil {
			closeOne(i)
		}
	}
	return out, nil
}

// routerCounters adds the router's failure counts to the run's (the
// pipelined discipline's retries happen there).
func (r *runner) routerCounters() (errs, retries, refreshes int64) {
	if r.tbl == nil {
		return 0, 0, 0
	}
	st := r.tbl.Stats()
	for _, n := range st.Errors {
		errs += int64(n)
	}
	return errs, int64(st.Retries), int64(st.Refreshes)
}
