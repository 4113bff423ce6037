package relay

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/ctlclient"
	"github.com/dupbridge/dupbridge/server"
)

// startEdgeNode runs an edge (server and shipper) with its admin HTTP on
// an httptest server and returns a ctlclient for it.
func startEdgeNode(t *testing.T, cfg *config.Config, log *zap.Logger) (*EdgeNode, *ctlclient.Client) {
	t.Helper()
	n, err := StartEdge(context.Background(), cfg, NodeOptions{Logger: log, Listen: "127.0.0.1:0", HTTPListen: "-"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	hs := httptest.NewServer(n.Server.HTTPHandler())
	t.Cleanup(hs.Close)
	c, err := ctlclient.New(hs.URL, ctlclient.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return n, c
}

func tableDup(t *testing.T, c *ctlclient.Client) server.TableDuplication {
	t.Helper()
	d, err := c.Duplication(context.Background(), "t")
	if err != nil || len(d.Tables) != 1 {
		t.Fatalf("GET /duplication?table=t: %+v, %v", d, err)
	}
	return d.Tables[0]
}

// An edge's /duplication counts the entries in its spool the sink has not
// acknowledged (also after a restart, rebuilt from disk), and its table
// controls (pause, fail mode, remove) persist across restarts as on a
// direct bridge; remove drops the spool and logs it.
func TestEdgeOperatorCalls(t *testing.T) {
	f, px := proxiedSink(t)
	px.Cut()
	cfg := edgeCfg(t, px.Addr(), t.TempDir(), testToken, "spool", "")
	log, logs := observed()
	ctx := context.Background()

	n, c := startEdgeNode(t, cfg, log)
	waitResults(t, shipParts(n.Edge, 0, 200), 200)
	if got := tableDup(t, c).SpooledEntries; got != 200 {
		t.Fatalf("spooled_entries = %d with the link cut, want 200", got)
	}
	steps := []struct {
		req       server.ControlRequest
		state, fm string
	}{
		{server.ControlRequest{Action: server.ActionPause}, server.StatePaused, "slow"},
		{server.ControlRequest{Action: server.ActionFailMode, FailMode: "skip", SkipAfterAttempts: 3}, server.StatePaused, "skip"},
		{server.ControlRequest{Action: server.ActionRemove}, server.StateRemoved, "skip"},
	}
	for _, s := range steps {
		res, err := c.Control(ctx, "t", s.req)
		if err != nil || !res.Persisted || res.State != s.state {
			t.Fatalf("%s: %+v, %v", s.req.Action, res, err)
		}
		if s.req.Action == server.ActionFailMode && res.Note != server.ErrFailModeElsewhere.Error() {
			t.Errorf("fail-mode on an edge: note %q, want that the sink's failure_policy decides", res.Note)
		}
		_ = n.Stop()
		n, c = startEdgeNode(t, cfg, log)
		td := tableDup(t, c)
		if td.State != s.state || td.FailMode != s.fm {
			t.Fatalf("after %s and a restart: state %s, fail mode %s; want %s, %s", s.req.Action, td.State, td.FailMode, s.state, s.fm)
		}
		if td.SpooledEntries != 200 {
			t.Fatalf("after %s and a restart: spooled_entries = %d, want the 200 on disk", s.req.Action, td.SpooledEntries)
		}
	}
	if !logs.has("relay: spool dropped", "t") || !logs.has("table removed from duplication", "its spool was dropped") {
		t.Fatal("ctl remove on the edge logged no spool drop")
	}
	px.Restore()
	eventually(t, "the dropped spool acknowledged", func() bool { return tableDup(t, c).SpooledEntries == 0 })
	if len(f.parts()) != 0 {
		t.Fatalf("%d dropped parts applied", len(f.parts()))
	}
}
