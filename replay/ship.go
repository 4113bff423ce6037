package replay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/rpcclient"
)

// batch is one duplicate_request.
type batch struct {
	body    []byte // RDSN body: wrapper(duplicate_request), wire.md §4.6
	hash    uint64 // hash of the last entry (duplication.md §3.5)
	entries int
	bytes   int       // raw_message bytes
	offered time.Time // when its round was scheduled (lag start)
}

// PERR_INVALID_ARGUMENT's RocksDB status (wire.md §4.6).
const statusInvalidArgument = 4

// shipper sends batches of one run; shared by every partition.
type shipper struct {
	o     *Options
	res   *resolver
	pool  *rpcclient.Pool
	c     *counters
	lat   *histogram
	lag   *histogram
	log   *zap.Logger
	wrapp int16 // body wrapper field id: 0 for RDSN, 1 for THFT args (wire.md §1.9, §2.3)
}

// attemptResult classifies one send.
type attemptResult int

const (
	attemptOK attemptResult = iota
	attemptRetry
	attemptFatal
)

// sent is a batch on the wire.
type sent struct {
	p     *rpcclient.Pending
	gen   uint64
	addr  string
	app   int32
	idx   int32
	start time.Time
}

// attempt sends b once to the primary the cached configuration names and
// waits for the answer.
func (s *shipper) attempt(ctx context.Context, b *batch) (attemptResult, error) {
	st, res, err := s.send(ctx, b)
	if res != attemptOK {
		return res, err
	}
	return s.wait(ctx, st)
}

// send resolves b's partition and writes the request. Batches sent one
// after the other by one goroutine to one primary leave in that order.
func (s *shipper) send(ctx context.Context, b *batch) (*sent, attemptResult, error) {
	cfg, gen, err := s.res.get(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, attemptFatal, ctx.Err()
		}
		return nil, attemptRetry, fmt.Errorf("query config: %w", err)
	}
	idx := int32(b.hash % uint64(cfg.PartitionCount)) // wire.md §6.2
	p := &cfg.Partitions[idx]
	addr := p.PrimaryAddress()
	if addr == "" || p.Ballot < 0 {
		// Unresolved partition: the C++ resolver re-queries (wire.md §4.1).
		s.res.invalidate(gen)
		return nil, attemptRetry, fmt.Errorf("partition %d.%d has no primary", cfg.AppID, idx)
	}
	conn, err := s.pool.Get(addr)
	if err != nil {
		return nil, attemptFatal, err
	}
	st := &sent{gen: gen, addr: addr, app: cfg.AppID, idx: idx, start: time.Now()}
	st.p, err = conn.Send(ctx, &rpcclient.Request{
		RPCName:          codec.RPCDuplicate,
		AppID:            cfg.AppID,
		PartitionIndex:   idx,
		PartitionHash:    b.hash,
		Timeout:          s.o.RPCTimeout, // 100 s, hard-coded in Pegasus (duplication.md §3.5)
		ForwardSupported: true,           // context 0x441, as a HEAD master sends (wire.md §4.6)
		Body:             b.body,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, attemptFatal, ctx.Err()
		}
		s.res.invalidate(gen)
		return nil, attemptRetry, err
	}
	return st, attemptOK, nil
}

// wait collects the answer to a sent batch and classifies it.
func (s *shipper) wait(ctx context.Context, st *sent) (attemptResult, error) {
	resp, err := st.p.Wait()
	if err != nil {
		if ctx.Err() != nil {
			return attemptFatal, ctx.Err()
		}
		// Transport loss or timeout: the C++ client drops the partition's
		// cached config and retries (wire.md §5.3).
		s.res.invalidate(st.gen)
		return attemptRetry, err
	}
	if !resp.OK() {
		switch resp.Err {
		case codec.ErrorObjectNotFound, codec.ErrorInvalidState, codec.ErrorParentPartitionMisused:
			s.res.invalidate(st.gen)
		}
		return attemptRetry, fmt.Errorf("%s to %s (partition %d.%d): %s", codec.RPCDuplicate, st.addr, st.app, st.idx, resp.Err)
	}
	dr, err := mutation.ParseDupResponse(resp.Body)
	if err != nil {
		return attemptRetry, fmt.Errorf("duplicate_response from %s: %w", st.addr, err)
	}
	switch dr.Error {
	case 0:
		s.lat.record(time.Since(st.start))
		return attemptOK, nil
	case statusInvalidArgument:
		return attemptFatal, fmt.Errorf("%w: %s (partition %d.%d) hint %q", ErrInvalidArgument, st.addr, st.app, st.idx, dr.ErrorHint)
	}
	return attemptRetry, fmt.Errorf("duplicate_response from %s (partition %d.%d): error %d %q", st.addr, st.app, st.idx, dr.Error, dr.ErrorHint)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// failureLog logs at most one warning per interval (a master logs 1% of
// failures, duplication.md §3.7).
type failureLog struct {
	mu   sync.Mutex
	last time.Time
	n    int
}

func (s *shipper) failed(fl *failureLog, part string, err error) {
	s.c.errors.Add(1)
	fl.mu.Lock()
	fl.n++
	if time.Since(fl.last) < 2*time.Second {
		fl.mu.Unlock()
		s.log.Debug("batch failed, will retry", zap.String("partition", part), zap.Error(err))
		return
	}
	n := fl.n
	fl.n, fl.last = 0, time.Now()
	fl.mu.Unlock()
	s.log.Warn("batch failed, will retry", zap.String("partition", part), zap.Int("failures_since_last_log", n), zap.Error(err))
}

// sendSequential sends one batch until it is acknowledged, retrying after
// RetryDelay (duplication.md §3.7).
func (s *shipper) sendSequential(ctx context.Context, fl *failureLog, part string, b *batch) error {
	for {
		res, err := s.attempt(ctx, b)
		switch res {
		case attemptOK:
			s.lag.recordN(time.Since(b.offered), int64(b.entries))
			return nil
		case attemptFatal:
			return err
		}
		s.failed(fl, part, err)
		if err := sleep(ctx, s.o.RetryDelay); err != nil {
			return err
		}
		s.c.retries.Add(1)
	}
}

// shipRound sends a round's batches: queued per hash, queues started in
// ascending hash order and run concurrently, each queue in order
// (duplication.md §3.7). It returns when every queue is empty, or with the
// first fatal error.
func (s *shipper) shipRound(ctx context.Context, fl *failureLog, part string, batches []*batch) error {
	queues := map[uint64][]*batch{}
	for _, b := range batches {
		queues[b.hash] = append(queues[b.hash], b)
	}
	hashes := make([]uint64, 0, len(queues))
	for h := range queues {
		hashes = append(hashes, h)
	}
	slices.Sort(hashes)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, h := range hashes {
		q := queues[h]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			for _, b := range q {
				if err = s.sendSequential(rctx, fl, part, b); err != nil {
					break
				}
			}
			if err != nil {
				mu.Lock()
				if first == nil || (errors.Is(first, context.Canceled) && !errors.Is(err, context.Canceled)) {
					first = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if first != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}
