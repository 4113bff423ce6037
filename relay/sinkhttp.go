package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/server"
)

// The sink's admin HTTP: the direct bridge's reading calls (/duplication,
// /healthz, /readyz, pprof) behind the same guard (server.AdminGuard),
// answered from the follower routers and the link. The table controls
// are the edge's: masters connect there, so a pause, a fail mode or a
// remove at the sink could not stop or answer them; the sink refuses those
// calls with ErrControlOnEdge instead of forwarding them (it does not know
// the edge's admin address, and a forwarded call would need the edge's
// token, not the sink's).

// ErrControlOnEdge answers a table control sent to a sink.
var ErrControlOnEdge = errors.New("table controls (pause, start, remove, fail-mode) are the edge's, where masters connect: " +
	"send them to the edge's admin HTTP (dupbridge ctl --addr EDGE_ADMIN ...)")

// HTTPHandler serves GET /status (link and follower routers), /metrics,
// /duplication, /healthz, /readyz, /debug/pprof and POST /log-level, and
// answers the table
// controls 409 (ErrControlOnEdge), the mutating ones guarded like a direct
// bridge's (admin_token). Any goroutine.
func (n *SinkNode) HTTPHandler() (http.Handler, error) {
	reg := prometheus.NewRegistry()
	for _, c := range append(n.Sink.Collectors(), n.Followers.Collector()) {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("relay: sink metrics: %w", err)
		}
	}
	g := server.NewAdminGuard(n.cfg.Bridge.AdminToken, n.log)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"role": "sink", "link": n.Sink.Status(), "follower": n.Followers.Stats()})
	})
	mux.HandleFunc("GET /duplication", server.DuplicationHandler(n.Duplication))
	server.ServeHealth(mux, n.stopping.Load, n.Readiness)
	g.Pprof(mux)
	refuse := g.AdminOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(server.ErrorAnswer{Error: ErrControlOnEdge.Error()})
	}))
	mux.Handle("POST /log-level", g.AdminOnly(server.LogLevelHandler(n.logLevel, n.log)))
	for _, p := range []string{"POST /tables/{name}/control", "POST /tables/{name}/pause", "POST /tables/{name}/resume"} {
		mux.Handle(p, refuse)
	}
	return mux, nil
}

// serveHTTP serves HTTPHandler on http_listen (https with http_tls_cert)
// until ctx ends.
func (n *SinkNode) serveHTTP(ctx context.Context, o NodeOptions) error {
	addr := n.cfg.Bridge.HTTPListen
	if o.HTTPListen != "" {
		addr = o.HTTPListen
	}
	if addr == "" || addr == "-" {
		return nil
	}
	h, err := n.HTTPHandler()
	if err != nil {
		return err
	}
	ln, err := server.ListenAdmin(addr, &n.cfg.Bridge)
	if err != nil {
		return fmt.Errorf("relay: sink admin %w", err)
	}
	n.httpAddr = ln.Addr()
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = hs.Close() })
	n.log.Info("relay: sink admin http serving", zap.Stringer("addr", ln.Addr()), zap.Bool("tls", n.cfg.Bridge.HTTPTLSCert != ""))
	return nil
}

// HTTPAddr is the admin HTTP's bound address (nil without one).
func (n *SinkNode) HTTPAddr() net.Addr { return n.httpAddr }

// Duplication describes the sink's tables, or only table when it is not
// empty (an error when it is not configured): per table the follower
// routers' partitions, the newest master timestamp the follower
// acknowledged (the largest of the partitions') and the entries handed to
// the routers and not applied yet. Entries still in the edge's spool are
// the edge's /duplication (spooled_entries). Any goroutine.
func (n *SinkNode) Duplication(table string) (server.Duplication, error) {
	d := server.Duplication{Time: time.Now().UTC(), Role: config.RoleSink.String()}
	for i := range n.cfg.Tables {
		t := &n.cfg.Tables[i]
		if table != "" && t.Name != table {
			continue
		}
		d.Tables = append(d.Tables, n.tableDuplication(t))
	}
	if table != "" && len(d.Tables) == 0 {
		return d, fmt.Errorf("%w %s", server.ErrUnknownTable, strconv.Quote(table))
	}
	sort.Slice(d.Tables, func(i, j int) bool { return d.Tables[i].Name < d.Tables[j].Name })
	return d, nil
}

func (n *SinkNode) tableDuplication(t *config.Table) server.TableDuplication {
	td := server.TableDuplication{
		Name: t.Name, AppID: t.AppID, SourceTable: t.SourceTable, State: server.StateRunning,
		FailMode: t.FailurePolicy.String(), SkipAfterAttempts: t.SkipAfterAttempts,
		FollowerCluster: t.FollowerCluster, FollowerTable: t.FollowerTable,
		FollowerPartitionCount: n.Followers.PartitionCount(t.Name),
		Partitions:             []server.FollowerPartition{},
	}
	if st := n.Sink.tables[t.Name]; st != nil {
		td.InflightEntries = st.inflight.Load()
	}
	if _, why := n.Followers.FollowerFailing(t.Name); why != "" {
		td.FollowerError = why
	}
	if ps := n.Followers.FollowerPartitions(t.Name); ps != nil {
		td.Partitions = ps
	}
	for _, p := range td.Partitions {
		td.LastAckedTimestampUs = max(td.LastAckedTimestampUs, p.LastAckedTimestampUs)
	}
	return td
}

// Readiness is /readyz: a table is not ready while its follower has failed
// for longer than ready_follower_timeout (or the follower table has not
// opened for as long); the sink is not ready while it stops.
func (n *SinkNode) Readiness(now time.Time) server.Readiness {
	timeout := n.cfg.Bridge.ReadyFollowerTimeout
	if timeout <= 0 {
		timeout = config.DefaultReadyFollowerTimeout
	}
	r := server.Readiness{Ready: !n.stopping.Load(), Draining: n.stopping.Load()}
	for i := range n.cfg.Tables {
		t := &n.cfg.Tables[i]
		tr := server.TableReadiness{Table: t.Name}
		since, cause := n.Followers.FollowerFailing(t.Name)
		tr.CheckFollower(t, since, cause, now, timeout)
		tr.Ready = len(tr.Reasons) == 0
		r.Ready = r.Ready && tr.Ready
		r.Tables = append(r.Tables, tr)
	}
	sort.Slice(r.Tables, func(i, j int) bool { return r.Tables[i].Table < r.Tables[j].Table })
	return r
}
