package metaproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/dupbridge/dupbridge/ctlclient"
	"github.com/dupbridge/dupbridge/server"
)

// Lag is what a bridge knows about how far one table's follower is behind.
type Lag struct {
	Table string
	// LastAcked is the newest master timestamp of an entry applied
	// downstream and acknowledged; zero when none was yet.
	LastAcked time.Time
	// Inflight are entries received and not applied yet; Spooled are
	// entries kept in a WAN link's spool (0 without one).
	Inflight, Spooled int64
	Paused            bool
	// FollowerCluster is the bridge's name of the cluster it writes to.
	FollowerCluster string
	// Role is the bridge's role as /duplication says it ("sink" for a WAN
	// sink; empty for a direct bridge or an edge).
	Role string
}

// WithEdge is a sink's lag l completed by its edge's lag e: what the
// follower acknowledged comes from the sink, what is pending from the edge
// (received and not yet answered, and spooled and not yet acknowledged by
// the sink, which covers what the sink has in flight; with ack = follower
// an entry can be counted in both), and the pause is the edge's.
func (l Lag) WithEdge(e Lag) Lag {
	l.Inflight, l.Spooled, l.Paused = e.Inflight, e.Spooled, e.Paused
	return l
}

// Pending is the entries not yet applied downstream.
func (l Lag) Pending() int64 { return l.Inflight + l.Spooled }

// Behind is the window of master writes that may be missing downstream at
// now: none while nothing is pending, else everything since LastAcked
// (since now, read as "everything", when nothing was acknowledged yet).
// The bridge cannot see what a master has not sent it yet.
func (l Lag) Behind(now time.Time) time.Duration {
	if l.Pending() == 0 {
		return 0
	}
	if l.LastAcked.IsZero() || l.LastAcked.After(now) {
		return time.Duration(1<<63 - 1)
	}
	return now.Sub(l.LastAcked)
}

// ErrNoBridge: the bridge could not be asked, or does not duplicate the
// table.
var ErrNoBridge = errors.New("metaproxy: no bridge duplicating the table")

// BridgeLag reads table's lag from the bridge's GET /duplication?table=
// (ctlclient, the one client of the bridge's admin API). A bridge that
// cannot be reached, or does not duplicate table (404), is ErrNoBridge;
// any other refusal is returned as the bridge's error, which --force does
// not override.
func BridgeLag(ctx context.Context, c *ctlclient.Client, table string) (Lag, error) {
	d, err := c.Duplication(ctx, table)
	if err != nil {
		return Lag{}, bridgeErr(c, "reading the lag", err)
	}
	for _, t := range d.Tables {
		if t.Name != table && t.SourceTable != table {
			continue
		}
		l := Lag{Table: table, Inflight: t.InflightEntries, Spooled: t.SpooledEntries,
			Paused: t.State == server.StatePaused, FollowerCluster: t.FollowerCluster, Role: d.Role}
		if t.LastAckedTimestampUs > 0 {
			l.LastAcked = time.UnixMicro(t.LastAckedTimestampUs)
		}
		return l, nil
	}
	return Lag{}, fmt.Errorf("%w: the bridge at %s has no table %q", ErrNoBridge, c, table)
}

// PauseTable asks the bridge to pause table (POST /tables/TABLE/control):
// masters get a retryable error and send nothing new, so what is in flight
// drains.
func PauseTable(ctx context.Context, c *ctlclient.Client, table string) error {
	_, err := c.Control(ctx, table, server.ControlRequest{Action: server.ActionPause})
	return bridgeErr(c, "pausing "+table, err)
}

// bridgeErr marks an unreachable bridge, or one without the table, as
// ErrNoBridge.
func bridgeErr(c *ctlclient.Client, doing string, err error) error {
	var e *ctlclient.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e) && (e.Kind == ctlclient.KindUnreachable || e.Status == http.StatusNotFound):
		return fmt.Errorf("%w: %s on the bridge at %s: %v", ErrNoBridge, doing, c, err)
	}
	return fmt.Errorf("switch: %s on the bridge at %s: %w", doing, c, err)
}

// ErrLagTooHigh: the target is further behind than allowed.
var ErrLagTooHigh = errors.New("metaproxy: the target cluster is too far behind")

// SwitchOptions configure Switch.
type SwitchOptions struct {
	Table string
	// To is the target cluster: its name and meta servers.
	To Record
	// Bridge is the admin HTTP address of the bridge duplicating Table
	// from its current cluster to To (with the WAN link: the sink).
	Bridge string
	// MaxLag is the largest Lag.Behind accepted (default 5 s).
	MaxLag time.Duration
	// Wait, when > 0, polls the bridge (every Poll, default 200 ms) up to
	// this long for the lag to fall under MaxLag.
	Wait time.Duration
	Poll time.Duration
	// Edge is the admin HTTP address of the WAN link's edge when Bridge is
	// its sink: the pause goes there (masters connect to the edge; a sink
	// refuses table controls), and its spooled and in-flight entries are
	// the pending part of the lag (a sink cannot see what the edge still
	// spools). EdgeClient talks to it (nil: ctlclient.New(Edge), as
	// Client).
	Edge       string
	EdgeClient *ctlclient.Client
	// Pause pauses the table on the bridge (the edge, when given) before
	// waiting, so that nothing new arrives and what is in flight drains.
	Pause bool
	// Force switches even when the lag is too high or no bridge answers;
	// the result says what may be lost.
	Force bool
	// Out receives progress lines (io.Discard when nil).
	Out io.Writer
	// Client talks to the bridge (nil: ctlclient.New(Bridge) without a
	// token and with a 5 s timeout).
	Client *ctlclient.Client
	// LagOf replaces BridgeLag (tests, or another source).
	LagOf func(ctx context.Context) (Lag, error)
}

// SwitchResult is what Switch did.
type SwitchResult struct {
	From, To Record
	// Version is the node's version after the write.
	Version int32
	// Lag is the last lag read (zero when no bridge answered).
	Lag Lag
	// Behind is Lag.Behind when the switch was written.
	Behind time.Duration
	// Forced: written with the lag above MaxLag or without a bridge; Loss
	// then says what the target may miss.
	Forced bool
	Loss   string
}

// Switch moves Table to To, safely: it reads the node (and its version),
// asks the bridge how far To is behind, waits if asked, and writes the new
// mapping with a compare-and-set on the version read at the start, so that
// of two switches racing on the table exactly one wins (the other gets
// ErrConflict) and a change made meanwhile by anyone is never overwritten.
func Switch(ctx context.Context, st *Store, o SwitchOptions) (SwitchResult, error) {
	if o.MaxLag <= 0 {
		o.MaxLag = 5 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	res := SwitchResult{To: o.To}
	if o.Client == nil {
		c, err := ctlclient.New(o.Bridge, ctlclient.Options{Timeout: 5 * time.Second})
		if err != nil && !o.Force {
			return res, fmt.Errorf("%w: %v", ErrNoBridge, err)
		}
		o.Client = c
	}
	if o.EdgeClient == nil && o.Edge != "" {
		c, err := ctlclient.New(o.Edge, ctlclient.Options{Timeout: 5 * time.Second})
		if err != nil && !o.Force {
			return res, fmt.Errorf("%w: the edge: %v", ErrNoBridge, err)
		}
		o.EdgeClient = c
	}
	if o.LagOf == nil {
		o.LagOf = o.bridgeLag
	}
	if err := o.To.Check(); err != nil {
		return res, err
	}
	from, version, err := st.Get(o.Table)
	if err != nil {
		return res, fmt.Errorf("switch %s: reading the current mapping: %w", o.Table, err)
	}
	res.From = from
	if from == o.To {
		fmt.Fprintf(o.Out, "%s is already on %s (%s)\n", o.Table, from.ClusterName, from.MetaAddrs)
		res.Version = version
		return res, nil
	}
	fmt.Fprintf(o.Out, "switching %s from %s to %s (node version %d)\n", o.Table, from.ClusterName, o.To.ClusterName, version)
	lag, behind, err := waitLag(ctx, &o)
	res.Lag, res.Behind = lag, behind
	switch {
	case errors.Is(err, ErrNoBridge) && o.Force:
		res.Forced = true
		res.Loss = fmt.Sprintf("unknown: no bridge answered (%v); writes to %s not yet duplicated to %s may be missing there", err, from.ClusterName, o.To.ClusterName)
	case err != nil && !errors.Is(err, ErrLagTooHigh):
		return res, err
	case err != nil && !o.Force:
		return res, err
	case err != nil:
		res.Forced = true
		res.Loss = lossReport(lag, behind, from, o.To)
	}
	if res.Forced {
		fmt.Fprintf(o.Out, "FORCED: the switch may lose: %s\n", res.Loss)
	}
	v, err := st.Put(o.Table, o.To, version)
	if err != nil {
		return res, fmt.Errorf("switch %s: writing the new mapping (compare-and-set on version %d): %w", o.Table, version, err)
	}
	res.Version = v
	fmt.Fprintf(o.Out, "switched %s to %s (%s), node version %d\n", o.Table, o.To.ClusterName, o.To.MetaAddrs, v)
	if o.Pause {
		_, name := o.pauser()
		fmt.Fprintf(o.Out, "%s stays paused on the %s; start it again (dupbridge ctl start %s) once the old side may duplicate again\n", o.Table, name, o.Table)
	}
	return res, nil
}

// bridgeLag reads the lag from the bridge, completed by the edge's when
// one is given.
func (o *SwitchOptions) bridgeLag(ctx context.Context) (Lag, error) {
	if o.Client == nil {
		return Lag{}, fmt.Errorf("%w: no bridge address", ErrNoBridge)
	}
	l, err := BridgeLag(ctx, o.Client, o.Table)
	if err != nil || o.EdgeClient == nil {
		return l, err
	}
	e, err := BridgeLag(ctx, o.EdgeClient, o.Table)
	if err != nil {
		return l, fmt.Errorf("the edge: %w", err)
	}
	return l.WithEdge(e), nil
}

// pauser is the bridge that takes the pause: the edge when given.
func (o *SwitchOptions) pauser() (*ctlclient.Client, string) {
	if o.EdgeClient != nil {
		return o.EdgeClient, "edge " + o.Edge
	}
	return o.Client, "bridge " + o.Bridge
}

// waitLag reads the bridge's lag (pausing the table first if asked) until
// it is under MaxLag or the wait is over.
func waitLag(ctx context.Context, o *SwitchOptions) (Lag, time.Duration, error) {
	if o.Pause {
		c, name := o.pauser()
		if c == nil {
			return Lag{}, 0, fmt.Errorf("%w: no bridge address to pause %s on", ErrNoBridge, o.Table)
		}
		if err := PauseTable(ctx, c, o.Table); err != nil {
			return Lag{}, 0, err
		}
		fmt.Fprintf(o.Out, "paused %s on the %s: masters retry, nothing new is shipped\n", o.Table, name)
	}
	deadline := time.Now().Add(o.Wait)
	for first := true; ; first = false {
		lag, err := o.LagOf(ctx)
		if err != nil {
			return lag, 0, err
		}
		if first && lag.Role == "sink" && o.EdgeClient == nil {
			fmt.Fprintf(o.Out, "note: %s is a WAN sink, which cannot see what its edge still spools; give --edge EDGE_ADMIN to count it\n", o.Bridge)
		}
		behind := lag.Behind(time.Now())
		if lag.FollowerCluster != "" && lag.FollowerCluster != o.To.ClusterName {
			fmt.Fprintf(o.Out, "note: the bridge names its follower cluster %q, the target is %q\n", lag.FollowerCluster, o.To.ClusterName)
		}
		if behind <= o.MaxLag {
			fmt.Fprintf(o.Out, "lag %s (%d entries pending) is within --max-lag %s\n", fmtBehind(behind), lag.Pending(), o.MaxLag)
			return lag, behind, nil
		}
		if !time.Now().Before(deadline) {
			return lag, behind, fmt.Errorf("%w: %s behind with %d entries not applied, above --max-lag %s",
				ErrLagTooHigh, fmtBehind(behind), lag.Pending(), o.MaxLag)
		}
		fmt.Fprintf(o.Out, "waiting: %s behind, %d entries pending\n", fmtBehind(behind), lag.Pending())
		t := time.NewTimer(o.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return lag, behind, ctx.Err()
		case <-t.C:
		}
	}
}

// lossReport says what a forced switch may lose.
func lossReport(lag Lag, behind time.Duration, from, to Record) string {
	window := "every write since the bridge started (nothing acknowledged yet)"
	if !lag.LastAcked.IsZero() {
		window = fmt.Sprintf("writes to %s since %s (%s)", from.ClusterName, lag.LastAcked.UTC().Format(time.RFC3339Nano), fmtBehind(behind))
	}
	return fmt.Sprintf("%s; %d entries not yet applied to %s (%d in flight, %d spooled)",
		window, lag.Pending(), to.ClusterName, lag.Inflight, lag.Spooled)
}

func fmtBehind(d time.Duration) string {
	if d == time.Duration(1<<63-1) {
		return "unbounded"
	}
	return d.Round(time.Millisecond).String()
}
