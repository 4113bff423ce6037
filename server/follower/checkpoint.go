package follower

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/checkpoint"
	"github.com/dupbridge/dupbridge/server"
)

// LoadCheckpoint implements server.CheckpointLoader: it waits for the
// table's router, fetches the master's checkpoint into job.Dir (resuming
// what is there), loads it into the follower table through the router and
// removes job.Dir once the load is complete.
func (s *Set) LoadCheckpoint(ctx context.Context, job *server.LoadJob) error {
	if s.opts.OpenCheckpoint == nil {
		return errors.New("follower: no checkpoint reader configured")
	}
	e := s.entries()[job.Table.Name]
	if e == nil {
		return fmt.Errorf("follower: no table %s", job.Table.Name)
	}
	log := s.log.With(zap.String("table", job.Table.Name))
	if err := os.MkdirAll(job.Dir, 0o700); err != nil {
		return fmt.Errorf("follower: checkpoint staging: %w", err)
	}
	if done, err := checkpoint.Done(job.Dir); err != nil {
		return err
	} else if !done {
		fo := s.opts.Fetch
		fo.Metas, fo.Table, fo.Dir = job.MasterMetas, job.MasterTable, job.Dir
		fo.Logger, fo.Client = log, s.opts.Client
		fo.Progress = progressLog(ctx, log, "checkpoint copy progress", "bytes")
		_, err := checkpoint.Fetch(ctx, fo)
		if errors.Is(err, checkpoint.ErrStagedOther) {
			// The master table changed its partition count (a split) since
			// the copy began: start over; keys loaded already are loaded
			// again, which is harmless.
			log.Warn("the staged checkpoint no longer matches the master table; copying it again", zap.Error(err))
			if err := os.RemoveAll(job.Dir); err != nil {
				return fmt.Errorf("follower: clearing checkpoint staging: %w", err)
			}
			_, err = checkpoint.Fetch(ctx, fo)
		}
		if err != nil {
			return err
		}
		rt, err := s.waitRouter(ctx, e)
		if err != nil {
			return err
		}
		lo := s.opts.Load
		lo.Dir, lo.Open, lo.To = job.Dir, s.opts.OpenCheckpoint, rt
		lo.MasterClusterID, lo.AllowClusterID = job.MasterClusterID, job.AllowClusterID
		lo.Admit, lo.Lock, lo.Logger = job.Admit, job.Lock, log
		lo.Progress = progressLog(ctx, log, "checkpoint load progress", "keys")
		if _, err := checkpoint.Load(ctx, lo); err != nil {
			var pe *checkpoint.PartitionError
			if errors.As(err, &pe) && ctx.Err() == nil {
				// A corrupt or missing staged file: copy the partition again.
				if rerr := checkpoint.Refetch(job.Dir, pe.Partition); rerr != nil {
					log.Warn("could not reset a partition for another copy", zap.Int("partition", pe.Partition), zap.Error(rerr))
				}
			}
			return err
		}
	}
	if err := os.RemoveAll(job.Dir); err != nil {
		log.Warn("removing the loaded checkpoint's staging directory failed", zap.String("dir", job.Dir), zap.Error(err))
	}
	return nil
}

// progressInterval is how often a running copy or load logs its progress.
const progressInterval = 10 * time.Second

// progressLog returns a progress callback that logs the running total at
// most every progressInterval, until ctx ends.
func progressLog(ctx context.Context, log *zap.Logger, msg, unit string) func(int64) {
	var total atomic.Int64
	var next atomic.Int64
	next.Store(time.Now().Add(progressInterval).UnixNano())
	return func(n int64) {
		t := total.Add(n)
		now := time.Now().UnixNano()
		if at := next.Load(); now >= at && next.CompareAndSwap(at, now+int64(progressInterval)) && ctx.Err() == nil {
			log.Info(msg, zap.Int64(unit, t))
		}
	}
}

// waitRouter waits until the table's router is open.
func (s *Set) waitRouter(ctx context.Context, e *entry) (checkpoint.Shipper, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if rt := e.rt.Load(); rt != nil {
			return rt, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("follower: waiting for table %s to open: %w", e.t.Name, ctx.Err())
		case <-t.C:
		}
	}
}
