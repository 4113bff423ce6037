package metaproxy

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxTableLabels bounds the distinct table label values: the tables behind
// a proxy are unbounded (10,000 in the tests), a time series per table is
// not. Tables past the bound are counted under otherTables.
const (
	maxTableLabels = 256
	otherTables    = "_other"
)

// metrics are the proxy's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg *prometheus.Registry

	queries, forwards, coalesced, forwardErrors, hits, misses, switches *prometheus.CounterVec // by table
	lookupErrors                                                        *prometheus.CounterVec // by error name
	zkEvents                                                            *prometheus.CounterVec // by event type or state
	zkErrors                                                            *prometheus.CounterVec // by operation
	evictions, unknownRPCs, badRequests                                 prometheus.Counter

	all []prometheus.Collector

	mu     sync.Mutex
	labels map[string]struct{}
}

func newMetrics(p *Proxy) (*metrics, error) {
	m := &metrics{reg: prometheus.NewRegistry(), labels: map[string]struct{}{}}
	byTable := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_metaproxy_" + name, Help: help}, []string{"table"})
	}
	m.queries = byTable("queries_total", "Query-config requests received.")
	m.forwards = byTable("forwards_total", "Query-config requests forwarded to the table's cluster.")
	m.coalesced = byTable("coalesced_total", "Queries answered with the answer of an identical query already on its way to the meta.")
	m.forwardErrors = byTable("forward_errors_total", "Forwarded queries no meta of the cluster answered (answered ERR_UNKNOWN).")
	m.hits = byTable("cache_hits_total", "Queries whose table was cached.")
	m.misses = byTable("cache_misses_total", "Queries whose table was read from ZooKeeper.")
	m.switches = byTable("switches_total", "Changes of a cached table's mapping seen through its watch.")
	m.lookupErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_metaproxy_lookup_errors_total",
		Help: "Queries refused because the table could not be resolved, by the error name answered."}, []string{"error"})
	m.zkEvents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_metaproxy_zk_events_total",
		Help: "ZooKeeper session states and watch events seen."}, []string{"event"})
	m.zkErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dupbridge_metaproxy_zk_errors_total",
		Help: "ZooKeeper operations that failed (not counting missing or malformed nodes)."}, []string{"op"})
	m.evictions = prometheus.NewCounter(prometheus.CounterOpts{Name: "dupbridge_metaproxy_cache_evictions_total",
		Help: "Tables evicted from the bounded cache (cache_tables)."})
	m.unknownRPCs = prometheus.NewCounter(prometheus.CounterOpts{Name: "dupbridge_metaproxy_unknown_rpcs_total",
		Help: "Requests other than query config (answered ERR_HANDLER_NOT_FOUND)."})
	m.badRequests = prometheus.NewCounter(prometheus.CounterOpts{Name: "dupbridge_metaproxy_bad_requests_total",
		Help: "Query-config requests whose body did not decode (answered ERR_INVALID_DATA)."})
	gauges := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dupbridge_metaproxy_zk_connected",
			Help: "1 while the ZooKeeper session is established."}, func() float64 {
			if p.lostAt.Load() == 0 {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dupbridge_metaproxy_zk_stale_seconds",
			Help: "Seconds since the ZooKeeper session was lost (cached tables are served unverified meanwhile); 0 while established."},
			func() float64 { return p.staleFor().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dupbridge_metaproxy_cached_tables",
			Help: "Tables in the cache (each with a ZooKeeper watch)."}, func() float64 { return float64(p.cache.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dupbridge_metaproxy_stale_tables",
			Help: "Cached tables served without a current ZooKeeper watch."}, func() float64 { return float64(p.staleTables()) }),
	}
	m.all = append([]prometheus.Collector{m.queries, m.forwards, m.coalesced, m.forwardErrors, m.hits, m.misses, m.switches,
		m.lookupErrors, m.zkEvents, m.zkErrors, m.evictions, m.unknownRPCs, m.badRequests}, gauges...)
	for _, c := range m.all {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("metaproxy: registering metrics: %w", err)
		}
	}
	return m, nil
}

// label is table's label value: the name itself for the first
// maxTableLabels tables seen, otherTables after.
func (m *metrics) label(table string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.labels[table]; ok {
		return table
	}
	if len(m.labels) >= maxTableLabels {
		return otherTables
	}
	m.labels[table] = struct{}{}
	return table
}

func (m *metrics) zkEvent(what string) { m.zkEvents.WithLabelValues(what).Inc() }

// tableCounters are one table's series, resolved once (label lookups cost
// more than the rest of a cached query's path), and the same counts for
// /status (a Prometheus series may be shared with other tables, _other).
type tableCounters struct {
	queries, hits, misses, forwards, coalesced, forwardErrors, switches prometheus.Counter
	n                                                                   tableCounts
}

// tableCounts are one table's counts since it entered the cache.
type tableCounts struct {
	Queries, Hits, Misses, Forwards, Coalesced, ForwardErrors, ZKEvents, ZKErrors atomic.Int64
}

// query counts a query, hit or miss.
func (tc *tableCounters) query(hit bool) {
	tc.queries.Inc()
	tc.n.Queries.Add(1)
	if hit {
		tc.hits.Inc()
		tc.n.Hits.Add(1)
	} else {
		tc.misses.Inc()
		tc.n.Misses.Add(1)
	}
}

func (tc *tableCounters) forward()      { tc.forwards.Inc(); tc.n.Forwards.Add(1) }
func (tc *tableCounters) coalesce()     { tc.coalesced.Inc(); tc.n.Coalesced.Add(1) }
func (tc *tableCounters) forwardError() { tc.forwardErrors.Inc(); tc.n.ForwardErrors.Add(1) }

func (m *metrics) forTable(table string) *tableCounters {
	l := m.label(table)
	return &tableCounters{queries: m.queries.WithLabelValues(l), hits: m.hits.WithLabelValues(l),
		misses: m.misses.WithLabelValues(l), forwards: m.forwards.WithLabelValues(l),
		coalesced: m.coalesced.WithLabelValues(l), forwardErrors: m.forwardErrors.WithLabelValues(l),
		switches: m.switches.WithLabelValues(l)}
}

// staleFor is how long the ZooKeeper session has been lost; 0 while it is
// established.
func (p *Proxy) staleFor() time.Duration {
	at := p.lostAt.Load()
	if at == 0 {
		return 0
	}
	return time.Since(time.Unix(0, at))
}

// staleTables counts the cached tables served unverified.
func (p *Proxy) staleTables() int {
	lost := p.lostAt.Load() != 0
	n := 0
	for _, k := range p.cache.Keys() {
		if e, ok := p.cache.Peek(k); ok && (lost || e.stale.Load()) {
			n++
		}
	}
	return n
}

// Registry is the proxy's Prometheus registry (served at /metrics).
func (p *Proxy) Registry() *prometheus.Registry { return p.m.reg }

// Collector is every metric of the proxy as one collector, for a registry
// it shares (a bridge's, when the proxy runs beside it).
func (p *Proxy) Collector() prometheus.Collector { return collectors(p.m.all) }

type collectors []prometheus.Collector

func (cs collectors) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

func (cs collectors) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}
