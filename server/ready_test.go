package server

import (
	"testing"
	"time"
)

// TestPendingList: the oldest pending request is the head whatever order
// requests complete in.
func TestPendingList(t *testing.T) {
	var l pendingList
	ps := make([]*pendingDup, 4)
	for i := range ps {
		ps[i] = &pendingDup{}
		l.add(ps[i])
		time.Sleep(time.Millisecond)
	}
	steps := []struct {
		remove int
		oldest int // -1: none left
	}{{2, 0}, {0, 1}, {3, 1}, {1, -1}}
	for _, st := range steps {
		l.remove(ps[st.remove])
		got := l.oldest()
		if st.oldest < 0 {
			if !got.IsZero() || l.head != nil || l.tail != nil {
				t.Fatalf("after removing %d: oldest %v, list %p %p", st.remove, got, l.head, l.tail)
			}
			continue
		}
		if !got.Equal(ps[st.oldest].since) {
			t.Fatalf("after removing %d: oldest %v, want request %d's %v", st.remove, got, st.oldest, ps[st.oldest].since)
		}
	}
}

// healthShipper is a fakeShipper that reports follower failures.
type healthShipper struct {
	*fakeShipper
	since map[string]time.Time
}

func (h healthShipper) FollowerFailing(table string) (time.Time, string) {
	return h.since[table], "partition 1: transport"
}

// TestReadiness evaluates /readyz's rules at a chosen instant: a follower
// failing for less than ready_follower_timeout (30 s by default) keeps the
// table ready, longer does not; so does a request older than
// ready_lag_threshold (60 s); draining makes the whole bridge not ready.
func TestReadiness(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		failing  time.Duration // orders' follower failing this long (0: answers)
		pending  time.Duration // age of orders' oldest request (0: none)
		draining bool
		ready    bool
		reason   string
	}{
		{"healthy", 0, 0, false, true, ""},
		{"failing briefly", 10 * time.Second, 0, false, true, ""},
		{"failing too long", 31 * time.Second, 0, false, false, "follower F/orders unreachable for 31s (ready_follower_timeout 30s): partition 1: transport"},
		{"young request", 0, 59 * time.Second, false, true, ""},
		{"old request", 0, 61 * time.Second, false, false, "oldest unacknowledged request is 1m1s old (ready_lag_threshold 1m0s)"},
		{"draining", 0, 0, true, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := healthShipper{fakeShipper: newFakeShipper(nil, true), since: map[string]time.Time{}}
			if tc.failing > 0 {
				h.since["orders"] = now.Add(-tc.failing)
			}
			s, err := New(Options{Config: testConfig(t, nil), Shipper: h})
			if err != nil {
				t.Fatal(err)
			}
			if tc.pending > 0 {
				p := &pendingDup{}
				s.tabs().byName["orders"].pending.add(p)
				p.since = now.Add(-tc.pending)
			}
			s.draining.Store(tc.draining)
			r := s.Readiness(now)
			if r.Ready != tc.ready || r.Draining != tc.draining || len(r.Tables) != 2 || r.Tables[0].Table != "open" || !r.Tables[0].Ready {
				t.Fatalf("readiness %+v", r)
			}
			o := r.Tables[1]
			if tc.reason == "" && len(o.Reasons) != 0 || tc.reason != "" && (len(o.Reasons) != 1 || o.Reasons[0] != tc.reason || o.Ready) {
				t.Errorf("orders: %+v, want reason %q", o, tc.reason)
			}
			if o.FollowerFailingSeconds != tc.failing.Seconds() || o.OldestUnackedSeconds != tc.pending.Seconds() {
				t.Errorf("orders seconds: %+v", o)
			}
		})
	}
}
