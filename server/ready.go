package server

import (
	"cmp"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dupbridge/dupbridge/config"
)

// Readiness (/readyz) and the follower-reachability gauge. /healthz only
// says the process serves; /readyz says whether duplication is moving: a
// table is not ready when its follower has failed for longer than
// ready_follower_timeout, or when its oldest request not yet acknowledged
// to a master is older than ready_lag_threshold. The bridge is not ready
// while its state directory cannot be written.

// pendingList is a table's duplicate requests shipped and not yet answered,
// oldest first (each is added when shipped, so arrival order is age order).
type pendingList struct {
	mu         sync.Mutex
	head, tail *pendingDup
}

func (l *pendingList) add(p *pendingDup) {
	l.mu.Lock()
	p.since = time.Now()
	p.prev, p.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = p
	} else {
		l.head = p
	}
	l.tail = p
	l.mu.Unlock()
}

func (l *pendingList) remove(p *pendingDup) {
	l.mu.Lock()
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		l.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		l.tail = p.prev
	}
	p.prev, p.next = nil, nil
	l.mu.Unlock()
}

// oldest is when the oldest pending request was shipped (zero: none).
func (l *pendingList) oldest() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.head == nil {
		return time.Time{}
	}
	return l.head.since
}

// TableReadiness is one table in /readyz.
type TableReadiness struct {
	Table   string   `json:"table"`
	Ready   bool     `json:"ready"`
	Reasons []string `json:"reasons,omitempty"`
	// FollowerFailingSeconds: how long the follower has been failing (0
	// while it answers or when the Shipper cannot tell).
	FollowerFailingSeconds float64 `json:"follower_failing_seconds"`
	// OldestUnackedSeconds: age of the oldest request not yet answered.
	OldestUnackedSeconds float64 `json:"oldest_unacked_seconds"`
}

// Readiness is the /readyz document.
type Readiness struct {
	Ready    bool `json:"ready"`
	Draining bool `json:"draining"`
	// StateDirProblem: why state_dir cannot be written (the persisted
	// table controls and the spool live there); empty when it can.
	StateDirProblem string           `json:"state_dir_problem,omitempty"`
	Tables          []TableReadiness `json:"tables"`
}

// Readiness evaluates every table at now. Any goroutine.
func (s *Server) Readiness(now time.Time) Readiness {
	b := s.live.Load()
	// A Config not made by config.Parse may leave them zero.
	followerTimeout := cmp.Or(b.ReadyFollowerTimeout, config.DefaultReadyFollowerTimeout)
	lagThreshold := cmp.Or(b.ReadyLagThreshold, config.DefaultReadyLagThreshold)
	r := Readiness{Ready: !s.draining.Load(), Draining: s.draining.Load(), StateDirProblem: s.stateDirProblem()}
	r.Ready = r.Ready && r.StateDirProblem == ""
	for _, ts := range s.tabs().byName {
		tr := TableReadiness{Table: ts.cfg.Name, Ready: true}
		since, cause := s.followerFailing(ts)
		tr.CheckFollower(ts.cfg, since, cause, now, followerTimeout)
		if t := ts.pending.oldest(); !t.IsZero() {
			d := now.Sub(t)
			tr.OldestUnackedSeconds = d.Seconds()
			if d > lagThreshold {
				tr.Reasons = append(tr.Reasons, fmt.Sprintf("oldest unacknowledged request is %s old (ready_lag_threshold %s)",
					d.Round(time.Millisecond), lagThreshold))
			}
		}
		tr.Ready = len(tr.Reasons) == 0
		r.Ready = r.Ready && tr.Ready
		r.Tables = append(r.Tables, tr)
	}
	sort.Slice(r.Tables, func(i, j int) bool { return r.Tables[i].Table < r.Tables[j].Table })
	return r
}

// CheckFollower marks tr not ready when t's follower has failed since
// since (zero: it answers) for longer than timeout
// (ready_follower_timeout), with cause.
func (tr *TableReadiness) CheckFollower(t *config.Table, since time.Time, cause string, now time.Time, timeout time.Duration) {
	if since.IsZero() {
		return
	}
	d := now.Sub(since)
	tr.FollowerFailingSeconds = d.Seconds()
	if d > timeout {
		tr.Reasons = append(tr.Reasons, fmt.Sprintf("follower %s/%s unreachable for %s (ready_follower_timeout %s): %s",
			t.FollowerCluster, t.FollowerTable, d.Round(time.Millisecond), timeout, cause))
	}
}

// followerFailing asks the Shipper when it can tell.
func (s *Server) followerFailing(ts *tableState) (time.Time, string) {
	if fh, ok := s.shipper.(FollowerHealth); ok {
		return fh.FollowerFailing(ts.cfg.Name)
	}
	return time.Time{}, ""
}

// readinessCollectors are ts's gauges: dupbridge_follower_reachable (alert
// rules use this name) and dupbridge_oldest_unacked_request_seconds.
func (s *Server) readinessCollectors(ts *tableState) []prometheus.Collector {
	labels := prometheus.Labels{"table": ts.cfg.Name}
	cs := []prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dupbridge_oldest_unacked_request_seconds",
		Help: "Age of the oldest duplicate request shipped and not yet answered (0: none).", ConstLabels: labels},
		func() float64 {
			if t := ts.pending.oldest(); !t.IsZero() {
				return time.Since(t).Seconds()
			}
			return 0
		})}
	if _, ok := s.shipper.(FollowerHealth); ok {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dupbridge_follower_reachable",
			Help: "0 while the table's follower fails (RPCs, meta queries or opening the table) with no success since, else 1.", ConstLabels: labels},
			func() float64 {
				if since, _ := s.followerFailing(ts); !since.IsZero() {
					return 0
				}
				return 1
			}))
	}
	return cs
}
