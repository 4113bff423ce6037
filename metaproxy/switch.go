package metaproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
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

// BridgeLag reads table's lag from the bridge's admin HTTP at admin
// (host:port or a URL). It reads GET /status (its tables[] entries, matched
// by name or source_table) today; a /duplication?table= endpoint can
// replace it here alone.
func BridgeLag(ctx context.Context, hc *http.Client, admin, table string) (Lag, error) {
	var st struct {
		Tables []struct {
			Name                 string `json:"name"`
			SourceTable          string `json:"source_table"`
			FollowerCluster      string `json:"follower_cluster"`
			Paused               bool   `json:"paused"`
			LastAckedTimestampUs int64  `json:"last_acked_timestamp_us"`
			InflightEntries      int64  `json:"inflight_entries"`
			SpooledEntries       int64  `json:"spooled_entries"`
		} `json:"tables"`
	}
	if err := adminCall(ctx, hc, http.MethodGet, admin, "/status", &st); err != nil {
		return Lag{}, err
	}
	for _, t := range st.Tables {
		if t.Name != table && t.SourceTable != table {
			continue
		}
		l := Lag{Table: table, Inflight: t.InflightEntries, Spooled: t.SpooledEntries, Paused: t.Paused,
			FollowerCluster: t.FollowerCluster}
		if t.LastAckedTimestampUs > 0 {
			l.LastAcked = time.UnixMicro(t.LastAckedTimestampUs)
		}
		return l, nil
	}
	return Lag{}, fmt.Errorf("%w: the bridge at %s has no table %q", ErrNoBridge, admin, table)
}

// PauseTable asks the bridge to pause table: masters get a retryable error
// and send nothing new, so what is in flight drains.
func PauseTable(ctx context.Context, hc *http.Client, admin, table string) error {
	return adminCall(ctx, hc, http.MethodPost, admin, "/tables/"+url.PathEscape(table)+"/pause", nil)
}

// adminCall does one request to the bridge's admin HTTP and decodes a JSON
// answer into out (unless nil).
func adminCall(ctx context.Context, hc *http.Client, method, admin, path string, out any) error {
	base := admin
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	var send io.Reader
	if method == http.MethodPost {
		send = strings.NewReader("{}") // the bridge's cross-site guard wants JSON on mutating calls
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, send)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoBridge, err)
	}
	if send != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrNoBridge, method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w: %s %s: reading: %v", ErrNoBridge, method, req.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s %s: %s: %s", ErrNoBridge, method, req.URL, resp.Status, strings.TrimSpace(string(body)))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%w: %s %s: %v", ErrNoBridge, method, req.URL, err)
		}
	}
	return nil
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
	// Pause pauses the table on the bridge before waiting, so that nothing
	// new arrives and what is in flight drains.
	Pause bool
	// Force switches even when the lag is too high or no bridge answers;
	// the result says what may be lost.
	Force bool
	// Out receives progress lines (io.Discard when nil).
	Out io.Writer
	// HTTP is the client for the bridge (a 5 s timeout client when nil).
	HTTP *http.Client
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
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	if o.LagOf == nil {
		o.LagOf = func(ctx context.Context) (Lag, error) { return BridgeLag(ctx, o.HTTP, o.Bridge, o.Table) }
	}
	res := SwitchResult{To: o.To}
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
		fmt.Fprintf(o.Out, "%s stays paused on the bridge; resume it (POST /tables/%s/resume) once the old side may duplicate again\n", o.Table, o.Table)
	}
	return res, nil
}

// waitLag reads the bridge's lag (pausing the table first if asked) until
// it is under MaxLag or the wait is over.
func waitLag(ctx context.Context, o *SwitchOptions) (Lag, time.Duration, error) {
	if o.Pause {
		if err := PauseTable(ctx, o.HTTP, o.Bridge, o.Table); err != nil {
			return Lag{}, 0, err
		}
		fmt.Fprintf(o.Out, "paused %s on the bridge %s: masters retry, nothing new is shipped\n", o.Table, o.Bridge)
	}
	deadline := time.Now().Add(o.Wait)
	for {
		lag, err := o.LagOf(ctx)
		if err != nil {
			return lag, 0, err
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
