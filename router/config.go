package router

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// layoutOf derives the effective layout from a meta answer: the partition
// count to split by and the route of each partition. While a split is in
// progress (the count doubled and some child reports ballot < 0, wire.md
// §6.3) the parent layout stays in force: the C++ resolver sends a child's
// keys to its parent until the child is ready.
func layoutOf(cfg *rpcclient.TableConfig) (int, []route, error) {
	n := int(cfg.PartitionCount)
	if cfg.AppID <= 0 || n <= 0 || n > 1<<16 {
		return 0, nil, fmt.Errorf("%w: app_id %d, partition_count %d", ErrBadConfig, cfg.AppID, n)
	}
	byIdx := make([]*rpcclient.PartitionConfig, n)
	for i := range cfg.Partitions {
		p := &cfg.Partitions[i]
		if p.Index >= 0 && int(p.Index) < n {
			byIdx[p.Index] = p
		}
	}
	eff := n
	if n%2 == 0 {
		for i := n / 2; i < n; i++ {
			if byIdx[i] != nil && byIdx[i].Ballot < 0 {
				eff = n / 2
				break
			}
		}
	}
	routes := make([]route, eff)
	for i := range routes {
		p := byIdx[i]
		if p == nil {
			continue
		}
		routes[i].ballot = p.Ballot
		if p.Ballot > 0 {
			// go-client treats ballot ≤ 0 as "not valid" (wire.md §4.1).
			routes[i].addr = p.PrimaryAddress()
		}
	}
	return eff, routes, nil
}

// applyInitial installs the first layout (New, before anything is shipped).
func (t *Table) applyInitial(cfg *rpcclient.TableConfig) error {
	count, routes, err := layoutOf(cfg)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.appID, t.count, t.routes = cfg.AppID, count, routes
	t.countA.Store(int64(count))
	t.appIDA.Store(cfg.AppID)
	t.queues = make([]*queue, count)
	for i := range t.queues {
		t.queues[i] = t.newQueueLocked(i)
	}
	return nil
}

// refresher queries the meta when a queue asks (at most once per
// RefreshInterval) and every RefreshEvery.
func (t *Table) refresher() {
	defer t.wg.Done()
	tick := time.NewTicker(t.opts.RefreshEvery)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-t.refreshCh:
		case <-tick.C:
		}
		if w := t.opts.RefreshInterval - time.Since(last); w > 0 {
			tm := time.NewTimer(w)
			select {
			case <-t.ctx.Done():
				tm.Stop()
				return
			case <-tm.C:
			}
		}
		select { // requests that arrived meanwhile are served by this query
		case <-t.refreshCh:
		default:
		}
		last = time.Now()
		t.refresh()
	}
}

func (t *Table) refresh() {
	ctx, cancel := context.WithTimeout(t.ctx, t.opts.RPCTimeout)
	cfg, err := t.meta.QueryConfig(ctx, t.opts.Table, nil)
	cancel()
	defer func() {
		t.mu.Lock()
		close(t.refreshed)
		t.refreshed = make(chan struct{})
		t.mu.Unlock()
	}()
	if t.ctx.Err() != nil {
		return
	}
	t.refreshes.Add(1)
	if err == nil {
		err = t.apply(cfg)
	}
	t.noteMeta(err)
	if err != nil {
		t.refreshFailures.Add(1)
		name := rpcclient.ErrName(err)
		if name == "" {
			name = "transport"
		}
		t.countError("meta:" + name)
		if t.logSampled("refresh", 5*time.Second) {
			t.log.Warn("follower config refresh failed", zap.Error(err))
		}
	}
}

// noteMeta books a refresh's outcome for Health.
func (t *Table) noteMeta(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.metaFailing.Succeed()
		return
	}
	t.metaFailing.Fail("meta:" + cmp.Or(rpcclient.ErrName(err), "transport"))
}

// apply installs a refreshed config. Same layout: routes are updated where
// the ballot did not go down (duplication.md §9.1). New layout: every
// queue is paused, the RPCs on the wire are awaited, and every queued
// shipment is re-split into the new queues (doc.go).
func (t *Table) apply(cfg *rpcclient.TableConfig) error {
	count, routes, err := layoutOf(cfg)
	if err != nil {
		return err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	if count == t.count && cfg.AppID == t.appID {
		for i, nr := range routes {
			cur := &t.routes[i]
			if nr.ballot < cur.ballot && cur.addr != "" {
				continue // stale answer
			}
			if nr.addr != cur.addr && cur.addr != "" && nr.addr != "" {
				t.log.Info("partition primary moved", zap.Int("partition", i),
					zap.String("from", cur.addr), zap.String("to", nr.addr), zap.Int64("ballot", nr.ballot))
			}
			*cur = nr
		}
		t.mu.Unlock()
		return nil
	}
	oldCount, oldApp := t.count, t.appID
	t.pausing = true
	for t.inflight > 0 && !t.closed {
		t.idle.Wait()
	}
	if t.closed {
		t.pausing = false
		t.mu.Unlock()
		return ErrClosed
	}
	newQ := make([]*queue, count)
	for i := range newQ {
		newQ[i] = t.newQueueLocked(i)
	}
	moved := 0
	for _, q := range t.queues {
		q.retired = true
		for _, it := range q.items {
			t.placeLocked(it, newQ, count)
			moved++
		}
		q.items, q.bytes = nil, 0
	}
	t.queues, t.routes, t.count, t.appID = newQ, routes, count, cfg.AppID
	t.countA.Store(int64(count))
	t.appIDA.Store(cfg.AppID)
	t.pausing = false
	sends := t.kickAllLocked()
	t.layoutChanges.Add(1)
	t.mu.Unlock()
	for _, s := range sends {
		s()
	}
	t.log.Warn("follower partition layout changed; queued shipments re-split",
		zap.Int("old_count", oldCount), zap.Int("new_count", count),
		zap.Int32("old_app_id", oldApp), zap.Int32("new_app_id", cfg.AppID),
		zap.Int("shipments", moved), zap.NamedError("event", ErrLayoutChanged))
	if t.opts.OnLayoutChange != nil {
		t.opts.OnLayoutChange(oldCount, count)
	}
	return nil
}

// part is one follower partition's share of a re-split shipment.
type part struct {
	p int
	s *Shipment
}

// splitShipment routes each entry of s by its own hash
// (mutation.PayloadHash via DupEntry.Hash, design.md step 4) over count
// partitions. When every entry lands in one partition the original
// shipment is returned as the only part (no copy).
func splitShipment(s *Shipment, count int) ([]part, error) {
	if _, _, ok := CanonicalBody(s.Body); !ok {
		return nil, fmt.Errorf("router: re-split: body is not a canonical duplicate_request")
	}
	it, err := mutation.NewDupIter(s.Body)
	if err != nil {
		return nil, fmt.Errorf("router: re-split: %w", err)
	}
	var e mutation.DupEntry
	builders := map[int]*Builder{}
	var order []int
	for it.Next(&e) {
		h, err := e.Hash()
		if err != nil {
			return nil, fmt.Errorf("router: re-split: entry hash: %w", err)
		}
		p := mutation.PartitionIndex(h, count)
		b := builders[p]
		if b == nil {
			b = new(Builder)
			builders[p] = b
			order = append(order, p)
		}
		b.Add(e.Raw, h, e.Timestamp)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("router: re-split: %w", err)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("router: re-split: no entries")
	}
	if len(order) == 1 {
		return []part{{p: order[0], s: s}}, nil
	}
	parts := make([]part, 0, len(order))
	for _, p := range order {
		ns := builders[p].Shipment(count)
		ns.FirstDecree, ns.LastDecree = s.FirstDecree, s.LastDecree
		parts = append(parts, part{p: p, s: ns})
	}
	return parts, nil
}

// placeLocked appends it, split for another layout, to the queues qs of a
// count-partition layout, in order.
func (t *Table) placeLocked(it *item, qs []*queue, count int) {
	t.resplit.Add(1)
	parts, err := splitShipment(it.s, count)
	if err != nil {
		// Not parseable: send it whole where its last entry belongs, as
		// Pegasus's own master would (duplication.md §3.6).
		t.resplitFallback.Add(1)
		t.log.Warn("cannot re-split shipment after a layout change; sending it whole",
			zap.Int("entries", it.s.Entries), zap.Error(err))
		t.enqueueLocked(qs[int(it.s.PartitionHash%uint64(count))], it)
		return
	}
	if len(parts) == 1 {
		t.enqueueLocked(qs[parts[0].p], it)
		return
	}
	agg := it.agg
	if agg == nil {
		agg = &aggregate{done: it.done, start: it.start, left: len(parts)}
	} else {
		agg.left += len(parts) - 1
	}
	t.queuedBytes.Add(-it.size)
	for _, pt := range parts {
		_, hashes := inspect(pt.s.Body)
		ni := &item{s: pt.s, agg: agg, start: it.start, size: int64(len(pt.s.Body)), canon: true, attempts: it.attempts, hashes: hashes}
		t.queuedBytes.Add(ni.size)
		t.enqueueLocked(qs[pt.p], ni)
	}
}
