package router

import (
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/rpcclient"
)

// TestSetPolicy: a table running slow keeps retrying a failing partition;
// switched to skip after N attempts (ctl fail-mode) it drops the shipment
// exactly when its attempts reach N and counts it, while the healthy
// partition's last acknowledged timestamp and the failing one's last error
// are reported.
func TestSetPolicy(t *testing.T) {
	cases := []struct {
		name        string
		switchAfter uint64 // retries seen before SetPolicy
		maxAttempts int
		wantAtt     int // attempts of the skipped shipment
	}{
		{"threshold above the attempts so far", 2, 6, 6},
		{"threshold already passed: skipped at the next failure", 5, 3, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(2)
			f.hook = func(c *fakeCall) (*rpcclient.Response, error, bool) {
				if c.req.PartitionIndex == 0 {
					return dupResp(13, "busy"), nil, false
				}
				return nil, nil, true
			}
			tb := openTable(t, f, func(o *Options) { o.MaxBatchBytes = -1 })
			res := newResults()
			k0, k1 := keysFor(0, 2, 1)[0], keysFor(1, 2, 1)[0]
			tb.Ship(0, shipment(2, k0, 1), res.cb(1))
			tb.Ship(1, shipment(2, k1, 7), res.cb(2))
			deadline := time.Now().Add(5 * time.Second)
			for tb.Stats().Partitions[0].Retries < tc.switchAfter && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			tb.SetPolicy(PolicySkip, tc.maxAttempts)
			if p := tb.Policy(); p.Policy != PolicySkip || p.MaxAttempts != tc.maxAttempts {
				t.Fatalf("Policy() = %+v", p)
			}
			res.wait(t, 10*time.Second)
			r := res.got[1]
			if r.Status != StatusSkipped || r.Attempts < tc.wantAtt-1 || r.Attempts > tc.wantAtt {
				t.Fatalf("shipment on the failing partition: %+v, want skipped after ~%d attempts", r, tc.wantAtt)
			}
			if tc.switchAfter < uint64(tc.maxAttempts) && r.Attempts != tc.maxAttempts {
				t.Errorf("skipped after %d attempts, want exactly %d", r.Attempts, tc.maxAttempts)
			}
			st := tb.Stats()
			if st.SkippedBatches != 1 || st.SkippedEntries != 1 || st.Partitions[0].Retries != uint64(r.Attempts) {
				t.Errorf("counters: skipped %d batches %d entries, %d retries for %d attempts", st.SkippedBatches, st.SkippedEntries, st.Partitions[0].Retries, r.Attempts)
			}
			if p1 := st.Partitions[1]; p1.LastAckedTimestamp != 1700000000000000+7 || p1.LastError != "" {
				t.Errorf("healthy partition: last acked %d, last error %q", p1.LastAckedTimestamp, p1.LastError)
			}
			if st.Partitions[0].LastAckedTimestamp != 0 {
				t.Errorf("failing partition reports an ack at %d", st.Partitions[0].LastAckedTimestamp)
			}
		})
	}
}
