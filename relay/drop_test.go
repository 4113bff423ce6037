package relay

import (
	"errors"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/server"
)

// DropSpool (ctl remove on an edge): what was spooled before the drop
// reaches the sink empty and is never applied, also across an edge restart;
// parts waiting for the sink's acknowledgement fail; what is shipped after
// the drop (ctl start) is delivered; the spool is acknowledged down to 0.
func TestDropSpool(t *testing.T) {
	for _, ack := range []string{"spool", "follower"} {
		t.Run("ack="+ack, func(t *testing.T) {
			f, px := proxiedSink(t)
			px.Cut()
			dir := t.TempDir()
			cfg := edgeCfg(t, px.Addr(), dir, testToken, ack, "")
			e, stop := runEdge(t, cfg, nil)
			results := shipParts(e, 0, 200)
			if ack == "spool" {
				waitResults(t, results, 200)
			}
			eventually(t, "everything spooled", func() bool { return e.Stats()["t"].Durable == 200 })
			n, err := e.DropSpool("t")
			if err != nil || n <= 0 {
				t.Fatalf("DropSpool: %d bytes, %v", n, err)
			}
			if ack == "follower" {
				for i := 0; i < 200; i++ {
					select {
					case r := <-results:
						if r.Status != server.PartFailed || !errors.Is(r.Err, errTableRemoved) {
							t.Fatalf("part waiting for the sink: %v %v, want failed (table removed)", r.Status, r.Err)
						}
					case <-time.After(10 * time.Second):
						t.Fatalf("only %d of 200 waiting parts failed", i)
					}
				}
			}
			if _, err := e.DropSpool("nope"); err == nil {
				t.Fatal("DropSpool of a table without a spool succeeded")
			}
			stop()
			e2, _ := runEdge(t, cfg, nil) // the drop mark survives a restart
			results = shipParts(e2, 200, 300)
			px.Restore()
			waitResults(t, results, 100)
			eventually(t, "spool acknowledged", func() bool {
				st := e2.Stats()["t"]
				return st.Acked == 300 && st.SpoolBytes == 0
			})
			seen := f.timestamps()
			if len(f.parts()) != 100 {
				t.Fatalf("%d parts applied, want the 100 shipped after the drop", len(f.parts()))
			}
			for i := 200; i < 300; i++ {
				if seen[samplePart(i).FirstTimestamp] != 1 {
					t.Fatalf("part %d applied %d times", i, seen[samplePart(i).FirstTimestamp])
				}
			}
		})
	}
}
