package spool

import (
	"maps"
	"testing"

	"github.com/dupbridge/dupbridge/internal/promtext"
)

// The collector's series follow appends and acknowledgements: the window
// is the records durable and not acknowledged, the acknowledged counter the
// acknowledged LSN, the bytes those of the unacknowledged records; and all
// of it resumes from the spool's files after a reopen.
func TestCollector(t *testing.T) {
	for _, tc := range []struct {
		name          string
		appends, ack  int
		reopen        bool
		window, acked float64
	}{
		{"empty", 0, 0, false, 0, 0},
		{"nothing acknowledged", 10, 0, false, 10, 0},
		{"some acknowledged", 10, 4, false, 6, 4},
		{"all acknowledged", 10, 10, false, 0, 10},
		{"an ack beyond the durable end is clamped", 10, 12, false, 0, 10},
		{"reopened after some acknowledged", 10, 4, true, 6, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{MaxBytes: 1 << 20}
			s, _, err := reopen(t, dir, o)
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, s, 0, tc.appends)
			s.Ack(uint64(tc.ack))
			if tc.reopen {
				s.Close()
				if s, _, err = reopen(t, dir, o); err != nil {
					t.Fatal(err)
				}
			}
			var unackedBytes int64
			for i := min(tc.ack, tc.appends); i < tc.appends; i++ {
				unackedBytes += int64(recordLen(len(payloadOf(i))))
			}
			got, err := promtext.Collect(Collector{Spools: func() map[string]*Spool { return map[string]*Spool{"t": s} }})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]float64{`dupbridge_spool_bytes{table="t"}`: float64(unackedBytes),
				`dupbridge_spool_capacity_bytes{table="t"}`: 1 << 20, `dupbridge_spool_unacked_records{table="t"}`: tc.window,
				`dupbridge_spool_acked_records_total{table="t"}`: tc.acked}
			if !maps.Equal(got, want) {
				t.Errorf("collected %v, want %v", got, want)
			}
		})
	}
}
