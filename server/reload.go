package server

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dupbridge/dupbridge/config"
)

// Reload (SIGHUP, POST /reload): a new configuration is applied without
// touching the master connections. Tables may be added and removed, their
// fail modes and the bridge's limits changed; anything else (addresses,
// clusters, a table's follower or app id, ...) needs a restart, and a
// configuration asking for it is refused whole, with every such problem.

// setLimits applies the reloadable limits of b. Any goroutine.
func (s *Server) setLimits(b *config.Bridge) {
	s.maxInflight.Store(cmp.Or(b.MaxInflightBytes, config.DefaultMaxInflightBytes))
	lag := b.LaggingWriteThreshold.Microseconds()
	if lag <= 0 {
		lag = config.DefaultLaggingWriteThreshold.Microseconds()
	}
	s.lagUs.Store(lag)
	s.live.Store(b)
}

// reloadableBridge zeroes the keys of b a reload may change, so that what
// is left must be equal for a reload to apply.
func reloadableBridge(b config.Bridge) config.Bridge {
	b.MaxInflightBytes, b.LaggingWriteThreshold = 0, 0
	b.ReadyFollowerTimeout, b.ReadyLagThreshold = 0, 0
	b.MaxConnections, b.MaxConnectionsPerPeer, b.AllowedPeers = 0, 0, nil
	b.FrameTimeout, b.IdleTimeout, b.ShutdownTimeout = 0, 0, 0
	b.Log.Level = ""
	return b
}

// reloadableTable zeroes the keys of a table a reload may change.
func reloadableTable(t config.Table) config.Table {
	t.Line, t.FailurePolicy, t.SkipAfterAttempts, t.Paused = 0, 0, 0, false
	return t
}

// restartProblems lists what in next differs from cur and needs a restart.
func restartProblems(cur, next *config.Config) []string {
	var out []string
	if a, b := reloadableBridge(cur.Bridge), reloadableBridge(next.Bridge); !reflect.DeepEqual(a, b) {
		out = append(out, fmt.Sprintf("[%s]: %s changed; only the limits (max_inflight_bytes, lagging_write_threshold, ready_*, max_connections*, allowed_peers, frame_timeout, idle_timeout, shutdown_timeout) and log_level are reloaded, the rest needs a restart",
			config.SectionBridge, changedFields(a, b)))
	}
	if !reflect.DeepEqual(cur.Clusters, next.Clusters) || !reflect.DeepEqual(cur.ClusterIDs, next.ClusterIDs) {
		out = append(out, "[pegasus.clusters] or [duplication-group] changed: needs a restart")
	}
	old := map[string]*config.Table{}
	for i := range cur.Tables {
		old[cur.Tables[i].Name] = &cur.Tables[i]
	}
	for i := range next.Tables {
		t := &next.Tables[i]
		o := old[t.Name]
		if o == nil {
			continue
		}
		if a, b := reloadableTable(*o), reloadableTable(*t); !reflect.DeepEqual(a, b) {
			out = append(out, fmt.Sprintf("line %d: [table.%s]: %s changed; only failure_policy and skip_after_attempts are reloaded (remove the table and add it under a new name, or restart)",
				t.Line, t.Name, changedFields(a, b)))
		}
	}
	return out
}

// changedFields names the fields of two structs of one type that differ.
func changedFields(a, b any) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var names []string
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			names = append(names, va.Type().Field(i).Name)
		}
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}

// Reload applies next (validated by config.Load): added tables are served
// from now on, removed ones refuse further requests as an unknown table
// (their requests in flight still complete), fail modes and limits change.
// Controls persisted by ctl (pause, remove, fail mode) keep winning over
// the file. It returns what changed, or an error listing every change
// that needs a restart, having applied nothing. Any goroutine.
func (s *Server) Reload(next *config.Config) ([]string, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.current
	if probs := restartProblems(cur, next); len(probs) > 0 {
		return nil, &ReloadError{Problems: probs}
	}
	old := s.tabs()
	set := &tableSet{byName: map[string]*tableState{}, byAppID: map[int32]*tableState{}}
	var changes []string
	var added []*tableState
	for i := range next.Tables {
		t := &next.Tables[i]
		if ts := old.byName[t.Name]; ts != nil {
			set.add(ts)
			changes = append(changes, s.reloadFailMode(ts, t)...)
			continue
		}
		ts := newTableState(next, t, s.opts.Guards)
		var reg []prometheus.Collector
		reg = append(reg, s.bindTableMetrics(ts)...)
		for _, c := range reg {
			if err := s.reg.Register(c); err != nil {
				for _, ts := range added {
					s.dropTableMetrics(ts)
				}
				s.dropTableMetrics(ts)
				return nil, fmt.Errorf("server: reload: metrics of table %s: %w", t.Name, err)
			}
		}
		added = append(added, ts)
		set.add(ts)
	}
	s.ctlMu.Lock()
	for _, ts := range added {
		if err := s.applyControls(ts); err != nil {
			s.log.Warn("reload: persisted controls of an added table not applied", zap.String("table", ts.cfg.Name), zap.Error(err))
		}
		// A table that was removed and added back resumes its create_app
		// state and any unfinished checkpoint load.
		if err := s.readCreateRecord(ts); err != nil {
			s.log.Warn("reload: create_app state of an added table not read", zap.String("table", ts.cfg.Name), zap.Error(err))
		} else {
			ts.mu.Lock()
			if ts.exists && !ts.rec.Loaded {
				s.startLoadLocked(ts)
			}
			ts.mu.Unlock()
		}
		changes = append(changes, fmt.Sprintf("table %s added (app %d, follower %s/%s)", ts.cfg.Name, ts.cfg.AppID, ts.cfg.FollowerCluster, ts.cfg.FollowerTable))
	}
	s.ctlMu.Unlock()
	for name, ts := range old.byName {
		if set.byName[name] == nil {
			changes = append(changes, fmt.Sprintf("table %s removed from the configuration: its requests are answered as an unknown table", name))
			defer s.dropTableMetrics(ts) // after the new set is published
		}
	}
	if a, b := cur.Bridge, next.Bridge; !reflect.DeepEqual(a, b) {
		changes = append(changes, "[dupbridge] limits changed: "+changedFields(a, b))
	}
	b := &next.Bridge
	if b.Log.Level != cur.Bridge.Log.Level && s.opts.LogLevel != nil {
		if lvl, err := zapcore.ParseLevel(b.Log.Level); err == nil {
			s.opts.LogLevel.SetLevel(lvl)
		}
	}
	s.setLimits(b)
	s.gate.setLimits(connCap(cmp.Or(b.MaxConnections, config.DefaultMaxConnections)),
		cmp.Or(b.MaxConnectionsPerPeer, config.DefaultMaxConnectionsPerPeer), b.AllowedPeers)
	s.tables.Store(set)
	s.current = next
	sort.Strings(changes)
	s.log.Info("configuration reloaded", zap.Strings("changes", changes))
	return changes, nil
}

// reloadFailMode applies a kept table's new failure policy, unless a ctl
// fail-mode persisted one that wins.
func (s *Server) reloadFailMode(ts *tableState, t *config.Table) []string {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	old, next := ts.confFail, failMode{policy: t.FailurePolicy, attempts: t.SkipAfterAttempts}
	if old == next {
		return nil
	}
	// The kept tableState keeps its config pointer for everything else
	// (equal by restartProblems); the configured policy is confFail.
	ts.confFail = next
	if c, ok := s.ctl.Tables[t.Name]; ok && c.FailMode != "" {
		return []string{fmt.Sprintf("table %s: failure_policy %s in the file, but ctl fail-mode %s persisted wins", t.Name, t.FailurePolicy, c.FailMode)}
	}
	ts.fail.Store(&failMode{policy: t.FailurePolicy, attempts: t.SkipAfterAttempts})
	if fs, ok := s.shipper.(FailModeSetter); ok {
		fs.SetFailMode(t.Name, t.FailurePolicy, t.SkipAfterAttempts)
	}
	return []string{fmt.Sprintf("table %s: failure policy %s (skip after %d) -> %s (skip after %d)", t.Name, old.policy, old.attempts, next.policy, next.attempts)}
}

// ReloadError is a configuration a reload refused: every change in it
// that needs a restart.
type ReloadError struct{ Problems []string }

func (e *ReloadError) Error() string {
	return fmt.Sprintf("%d change(s) need a restart, nothing applied: %v", len(e.Problems), e.Problems)
}

// IsReloadRefused reports whether err is a *ReloadError.
func IsReloadRefused(err error) bool {
	var re *ReloadError
	return errors.As(err, &re)
}
