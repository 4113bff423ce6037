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
