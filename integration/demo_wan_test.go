package integration

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/internal/wanlink"
)

// demoWANWrites keeps make demo-wan under 2 minutes: the pegasus
// discipline ships about 1,500 JSON writes/s across a 30 ms RTT.
const demoWANWrites = 40_000

// TestDemoWAN is make demo-wan (scripts/demo-wan.sh sets
// DUPBRIDGE_DEMO_WAN): on a fresh machine it installs toxiproxy and puts a
// 30 ms RTT, 100 Mbit/s link between the master side and the follower's
// datacenter. It ships the JSON log across it with Pegasus's discipline
// into a bridge beside the simulated follower (the baseline), then through
// the WAN link: the same replay into an edge on loopback, the edge shipping
// across the link to a sink beside a fresh simulated follower (ack =
// spool, timed until the follower has applied the last write). It verifies
// every key after each, and prints the speed-up. The pipelined replay
// across the same link is printed too: it costs a few seconds.
func TestDemoWAN(t *testing.T) {
	if os.Getenv("DUPBRIDGE_DEMO_WAN") == "" {
		t.Skip("set DUPBRIDGE_DEMO_WAN=1 (make demo-wan): needs toxiproxy")
	}
	start := time.Now()
	paths, parts := wanLog(t, demoWANWrites)
	link := wanlink.Start(t)
	base := wanPegasusBridge(t, link, paths, parts, false)
	edge := wanEdgeSink(t, link, paths, parts, "", false)
	pipe := wanPipelined(t, link, paths, parts, 1, false)
	printWANTo(os.Stdout, []wanResult{base, edge, pipe})
	fmt.Printf("\ndemo-wan: %d JSON writes, every key verified after each path; edge/sink across the link %.1fx the pegasus discipline (link bytes %.2fx raw); %v in all\n",
		demoWANWrites, edge.sum.MutationsPerSec/base.sum.MutationsPerSec, float64(edge.linkBytes)/float64(edge.sum.Bytes), time.Since(start).Round(time.Second))
	for _, r := range []wanResult{edge, pipe} {
		if r.verifiedKeys == 0 || r.verifiedKeys != base.verifiedKeys {
			t.Fatalf("verified %d keys (pegasus) and %d (%s)", base.verifiedKeys, r.verifiedKeys, r.name)
		}
	}
}
