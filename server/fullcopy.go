package server

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
)

// Full duplication with full_duplication = load: once create_app has made
// the follower table, a job copies the master's checkpoint and loads it
// into that table (package checkpoint, through a CheckpointLoader). It
// retries with backoff until it succeeds, resuming each time from what is
// staged under state_dir/checkpoints/TABLE, and it is restarted by Run
// after a bridge restart. Until it is done, "created" requests get
// ERR_BUSY_CREATING, so the master stays in DS_APP and never runs its health
// check, let alone moves to DS_LOG, on a partial load. Query-config is
// answered as usual meanwhile: writes that reach the table during the load
// (another duplication into it, a replay) are forwarded, and last-write-wins
// holds through the loaded entries' timetags and the table's keyorder
// guard.

// LoadJob is one table's checkpoint load.
type LoadJob struct {
	Table *config.Table
	// MasterMetas, MasterTable: where the master table is.
	MasterMetas []string
	MasterTable string
	// MasterClusterID stamps loaded values that carry no (accepted) cluster
	// id; AllowClusterID says which ids values may keep.
	MasterClusterID int8
	AllowClusterID  func(id int8) bool
	// Dir is the staging directory; the loader removes it once loaded.
	Dir string
	// Admit and Lock join the load to the table's keyorder guard and ship
	// sequence, so a loaded key never overwrites a newer write the bridge
	// already forwarded (a delete included). Loaded keys are not remembered
	// by the guard: they would crowd out the incremental writes' memory.
	Admit func(key []byte, timetag uint64) bool
	Lock  sync.Locker
}

// CheckpointLoader copies a master table's checkpoint into a follower
// table (server/follower implements it with package checkpoint).
//
// Concurrency contract: called on its own goroutine; it blocks until the
// load is complete, fails, or ctx is done, and is safe to call again for
// the same job after a failure (it resumes).
type CheckpointLoader interface {
	LoadCheckpoint(ctx context.Context, job *LoadJob) error
}

// Backoff of a failing load job.
const (
	loadBackoffMin = time.Second
	loadBackoffMax = 30 * time.Second
)

// resumeLoads restarts the load jobs a previous run left unfinished.
func (s *Server) resumeLoads() {
	for _, ts := range s.tabs().byName {
		ts.mu.Lock()
		if ts.exists && !ts.rec.Loaded {
			s.log.Info("resuming the checkpoint load of a full duplication", zap.String("table", ts.cfg.Name),
				zap.String("master_cluster", ts.rec.MasterCluster), zap.String("master_app", ts.rec.MasterApp))
			s.startLoadLocked(ts)
		}
		ts.mu.Unlock()
	}
}

// startLoadLocked starts ts's load job unless it runs already; ts.mu is
// held.
func (s *Server) startLoadLocked(ts *tableState) {
	if ts.loading || ts.rec.Loaded || s.opts.Loader == nil || s.runCtx.Err() != nil {
		return
	}
	ts.loading = true
	job := &LoadJob{
		Table:           ts.cfg,
		MasterMetas:     splitMetas(ts.rec.MasterMetas),
		MasterTable:     ts.rec.MasterApp,
		MasterClusterID: s.cfg.ClusterIDs[ts.rec.MasterCluster],
		AllowClusterID:  ts.allows,
		Dir:             filepath.Join(s.stateDir, "checkpoints", ts.cfg.Name),
		Admit:           func(key []byte, tt uint64) bool { return !ts.order.Older(0, key, tt) },
		Lock:            &ts.shipMu,
	}
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		s.runLoad(s.runCtx, ts, job)
	}()
}

func splitMetas(v string) []string {
	var out []string
	for _, m := range strings.Split(v, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// runLoad runs job until it succeeds or ctx ends, recording the outcome.
func (s *Server) runLoad(ctx context.Context, ts *tableState, job *LoadJob) {
	log := s.log.With(zap.String("table", ts.cfg.Name), zap.String("master_app", job.MasterTable),
		zap.Strings("master_metas", job.MasterMetas))
	log.Info("checkpoint load started", zap.String("staging", job.Dir))
	backoff := loadBackoffMin
	for {
		start := time.Now()
		err := s.opts.Loader.LoadCheckpoint(ctx, job)
		ts.mu.Lock()
		if ctx.Err() != nil && err != nil {
			// Stopped, not failed: the next run resumes; nothing to record.
			ts.loading = false
			ts.mu.Unlock()
			return
		}
		if err == nil {
			ts.rec.Loaded, ts.rec.LoadError = true, ""
		} else {
			ts.rec.LoadError = err.Error()
		}
		if serr := s.saveCreateLocked(ts); serr != nil && err == nil {
			// Loaded but not recorded: the next run loads again (idempotent).
			log.Error("checkpoint loaded, but recording it failed", zap.Error(serr))
		}
		if err == nil {
			ts.loading = false
			ts.mu.Unlock()
			log.Info("checkpoint load complete; the master's next \"created\" request succeeds", zap.Duration("took", time.Since(start)))
			return
		}
		ts.mu.Unlock()
		log.Warn("checkpoint load failed; retrying (what is staged is kept)", zap.Error(err), zap.Duration("retry_in", backoff))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			ts.mu.Lock()
			ts.loading = false
			ts.mu.Unlock()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, loadBackoffMax)
	}
}
