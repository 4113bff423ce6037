package replay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/router"
	"github.com/dupbridge/dupbridge/rpcclient"
	"github.com/dupbridge/dupbridge/walreader"
)

// runner is the state of one Run.
type runner struct {
	o    Options
	c    counters
	lat  histogram
	lag  histogram // entries: round scheduled → batch acknowledged
	lim  limiter
	prog *progressFile
	ship *shipper
	// tbl ships the pipelined discipline's rounds (pipeline.go); nil for
	// DisciplinePegasus.
	tbl *router.Table
	// names holds the task code names as bytes, so entries need no
	// allocation for them.
	names [mutation.CodeWriteEmpty + 1][]byte
}

func (r *runner) codeName(c mutation.Code) []byte {
	if int(c) < len(r.names) {
		return r.names[c]
	}
	return []byte(c.Name())
}

// Run replays the plogs of o.Paths into the follower table and returns what
// it did. It returns when every partition is done, failed, or ctx ends; the
// error joins the partitions' errors (the Summary is filled either way).
func Run(ctx context.Context, o Options) (Summary, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	r := &runner{o: opts, lim: limiter{rate: opts.Rate}}
	for c := range r.names {
		r.names[c] = []byte(mutation.Code(c).Name())
	}
	sum := Summary{Table: opts.Table, Discipline: opts.Discipline}

	srcs, err := discover(opts.Paths)
	if err != nil {
		return sum, err
	}
	if r.prog, err = loadProgress(opts.ProgressFile, opts.Table); err != nil {
		return sum, err
	}
	meta, err := rpcclient.NewMeta(opts.MetaAddrs, rpcclient.MetaOptions{Options: opts.Client})
	if err != nil {
		return sum, err
	}
	defer meta.Close()
	pool := rpcclient.NewPool(opts.Client)
	defer pool.Close()
	res := &resolver{meta: meta, table: opts.Table, refreshes: &r.c.refreshes}
	r.ship = &shipper{o: &r.o, res: res, pool: pool, c: &r.c, lat: &r.lat, lag: &r.lag, log: opts.Logger}
	if opts.Client.Framing == codec.FramingTHFT {
		r.ship.wrapp = 1
	}

	// Resolve the follower table first: a missing table is an error now,
	// not an endless retry.
	cfg, _, err := res.get(ctx)
	if err != nil {
		return sum, fmt.Errorf("replay: follower table %s: %w", opts.Table, err)
	}
	sum.RemoteAppID, sum.RemotePartitions = cfg.AppID, cfg.PartitionCount
	if opts.Discipline == DisciplinePipelined {
		var stop context.CancelCauseFunc
		ctx, stop = context.WithCancelCause(ctx)
		defer stop(nil)
		if r.tbl, err = r.openRouter(ctx, meta, pool, stop); err != nil {
			return sum, fmt.Errorf("replay: follower table %s: %w", opts.Table, err)
		}
		defer r.tbl.Close()
	}

	var total int64
	for _, s := range srcs {
		total += plogBytes(s.files)
	}
	start := time.Now()
	snapshot := func() Progress {
		errs, retries, _ := r.routerCounters()
		return Progress{
			Mutations: r.c.mutations.Load(), Entries: r.c.entries.Load(), Bytes: r.c.bytes.Load(),
			LogBytesRead: r.c.logRead.Load(), LogBytesTotal: total,
			Batches: r.c.batches.Load(), Retries: r.c.retries.Load() + retries, Errors: r.c.errors.Load() + errs,
			Partitions: len(srcs), PartitionsDone: int(r.c.partsDone.Load()),
			Elapsed: time.Since(start),
		}
	}
	stopTicker := make(chan struct{})
	var tickWG sync.WaitGroup
	if opts.OnProgress != nil {
		tickWG.Add(1)
		go func() {
			defer tickWG.Done()
			t := time.NewTicker(opts.ProgressInterval)
			defer t.Stop()
			for {
				select {
				case <-stopTicker:
					return
				case <-t.C:
					opts.OnProgress(snapshot())
				}
			}
		}()
	}

	parts := make([]*partRunner, len(srcs))
	errs := make([]error, len(srcs))
	var wg sync.WaitGroup
	for i, s := range srcs {
		p := &partRunner{run: r, path: s.key, files: s.files}
		p.sum.Path = s.key
		parts[i] = p
		from := max(opts.FromDecree, r.prog.lastDecree(s.key)+1, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.c.partsDone.Add(1)
			if err := p.replay(ctx, from); err != nil {
				errs[i] = fmt.Errorf("replay: partition %s: %w", s.key, err)
				p.sum.Err = err.Error()
				opts.Logger.Error("partition replay stopped", zap.String("partition", s.key), zap.Error(err))
			}
		}()
	}
	wg.Wait()
	close(stopTicker)
	tickWG.Wait()
	if err := r.prog.flush(); err != nil {
		errs = append(errs, err)
	}
	if opts.OnProgress != nil {
		opts.OnProgress(snapshot())
	}

	for _, p := range parts {
		sum.Partitions = append(sum.Partitions, p.sum)
		sum.Skipped.add(p.sum.Skipped)
		sum.Corrupt.add(p.sum.Corrupt)
		sum.MaxOpenRounds = max(sum.MaxOpenRounds, p.sum.MaxOpenRounds)
	}
	sum.Mutations = r.c.mutations.Load()
	sum.Entries = r.c.entries.Load()
	sum.Bytes = r.c.bytes.Load()
	sum.RequestBytes = r.c.reqBytes.Load()
	sum.Batches = r.c.batches.Load()
	errs2, retries, refreshes := r.routerCounters()
	sum.Retries = r.c.retries.Load() + retries
	sum.Errors = r.c.errors.Load() + errs2
	sum.Refreshes = r.c.refreshes.Load() + refreshes
	sum.Elapsed = time.Since(start)
	sum.ElapsedSeconds = sum.Elapsed.Seconds()
	if s := sum.Elapsed.Seconds(); s > 0 {
		sum.MutationsPerSec = float64(sum.Mutations) / s
		sum.MBPerSec = float64(sum.Bytes) / 1e6 / s
	}
	sum.LatencyP50, sum.LatencyP99 = r.lat.quantile(0.50), r.lat.quantile(0.99)
	sum.LatencyP50Ms = float64(sum.LatencyP50) / float64(time.Millisecond)
	sum.LatencyP99Ms = float64(sum.LatencyP99) / float64(time.Millisecond)
	sum.LagP50, sum.LagP99 = r.lag.quantile(0.50), r.lag.quantile(0.99)
	sum.LagP50Ms = float64(sum.LagP50) / float64(time.Millisecond)
	sum.LagP99Ms = float64(sum.LagP99) / float64(time.Millisecond)
	return sum, errors.Join(errs...)
}

// plogBytes is the total size of a source's plog files (for the ETA): the
// files given, or those walreader.ListDir finds in a plog directory.
func plogBytes(paths []string) int64 {
	var n int64
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !st.IsDir() {
			n += st.Size()
			continue
		}
		fs, err := walreader.ListDir(p)
		if err != nil {
			continue
		}
		for _, f := range fs {
			n += f.Size
		}
	}
	return n
}
