package metaproxy

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// historyLen bounds the moves kept for /status.
const historyLen = 64

// Move is one change of a cached table's mapping seen by the proxy.
type Move struct {
	Table     string    `json:"table"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	FromMetas string    `json:"from_metas"`
	ToMetas   string    `json:"to_metas"`
	Version   int32     `json:"zk_version"`
	At        time.Time `json:"at"`
}

// history is a bounded ring of moves, oldest first.
type history struct {
	mu    sync.Mutex
	max   int
	moves []Move
}

func (h *history) add(m Move) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.moves) >= h.max {
		h.moves = append(h.moves[:0], h.moves[1:]...)
	}
	h.moves = append(h.moves, m)
}

func (h *history) list() []Move {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Move(nil), h.moves...)
}

// TableStatus is one cached table in /status.
type TableStatus struct {
	Table     string    `json:"table"`
	Cluster   string    `json:"cluster"`
	MetaAddrs string    `json:"meta_addrs"`
	Version   int32     `json:"zk_version"`
	ReadAt    time.Time `json:"read_at"`
	// Stale: served without a current ZooKeeper watch (session lost, or
	// the watch not re-armed yet): a change made meanwhile is not seen.
	Stale bool `json:"stale"`
	// Counts since the table entered the cache (the Prometheus series
	// count from the start).
	Queries       int64 `json:"queries"`
	Hits          int64 `json:"cache_hits"`
	Misses        int64 `json:"cache_misses"`
	Forwards      int64 `json:"forwards"`
	Coalesced     int64 `json:"coalesced"`
	ForwardErrors int64 `json:"forward_errors"`
	ZKEvents      int64 `json:"zk_events"` // watch events of its node
	ZKErrors      int64 `json:"zk_errors"` // failed re-reads of its node
}

// Status is the proxy's /status document.
type Status struct {
	Listen       string        `json:"listen"`
	ZK           []string      `json:"zk"`
	Root         string        `json:"root"`
	ZKConnected  bool          `json:"zk_connected"`
	StaleSeconds float64       `json:"zk_stale_seconds"` // since the session was lost; 0 while established
	CacheTables  int           `json:"cache_tables"`
	Cached       int           `json:"cached"`
	Tables       []TableStatus `json:"tables"`
	Moves        []Move        `json:"moves"` // the last historyLen mapping changes, oldest first
}

// Status builds the status document. Any goroutine.
func (p *Proxy) Status() Status {
	lost := p.lostAt.Load() != 0
	st := Status{ZK: p.cfg.ZK, Root: p.cfg.Root, ZKConnected: !lost, StaleSeconds: p.staleFor().Seconds(),
		CacheTables: p.cfg.CacheTables, Cached: p.cache.Len(), Moves: p.hist.list()}
	if a := p.Addr(); a != nil {
		st.Listen = a.String()
	}
	for _, k := range p.cache.Keys() {
		e, ok := p.cache.Peek(k)
		if !ok {
			continue
		}
		b := e.b.Load()
		n := &e.tc.n
		st.Tables = append(st.Tables, TableStatus{Table: k, Cluster: b.rec.ClusterName, MetaAddrs: b.rec.MetaAddrs,
			Version: b.version, ReadAt: b.readAt, Stale: lost || e.stale.Load(),
			Queries: n.Queries.Load(), Hits: n.Hits.Load(), Misses: n.Misses.Load(), Forwards: n.Forwards.Load(),
			Coalesced: n.Coalesced.Load(), ForwardErrors: n.ForwardErrors.Load(), ZKEvents: n.ZKEvents.Load(),
			ZKErrors: n.ZKErrors.Load()})
	}
	sort.Slice(st.Tables, func(i, j int) bool { return st.Tables[i].Table < st.Tables[j].Table })
	return st
}

// HTTPHandler serves /status (JSON), /metrics and /healthz.
func (p *Proxy) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(p.Status())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}
