package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/internal/promtext"
	"github.com/dupbridge/dupbridge/mutation"
)

// scrape GETs /metrics through the server's HTTP handler and returns the
// samples by series ("name{label="v",...}" as exposed, labels sorted by
// name) and the HELP text by metric name.
func scrape(t *testing.T, s *Server) (samples map[string]float64, help map[string]string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
	samples, help, err := promtext.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return samples, help
}

// dupReq sends one duplicate request and returns the duplicate_response
// error code (-1 for an RPC-level error).
func dupReq(t *testing.T, cl *client, id uint64, app int32, es ...mutation.DupEntry) int32 {
	t.Helper()
	cl.send(cl.request(id, codec.RPCDuplicate, app, 0, dupBody(0, es...)))
	f := cl.recv()
	if string(f.ErrorName) != codec.ErrorOK {
		return -1
	}
	r, err := mutation.ParseDupResponse(f.Body)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	return r.Error
}

// TestMetrics sends duplicate requests through a running server and checks
// the scraped values and labels, for the default lagging-write threshold
// and a configured one.
func TestMetrics(t *testing.T) {
	tests := []struct {
		name        string
		threshold   string // lagging_write_threshold, "" for the default (10s)
		wantLagging float64
	}{
		// Lags received: 2 s three times, 3 s, 60 s.
		{"default threshold", "", 1}, // only the 60 s old entry
		{"threshold 1s", "1s", 5},
		{"threshold 2500ms", "2500ms", 2}, // 3 s and 60 s
		{"threshold 30s", "30s", 1},
		{"threshold 5m", "5m", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, func(s string) string {
				if tc.threshold == "" {
					return s
				}
				return strings.Replace(s, "  event_loops = 2\n", "  event_loops = 2\n  lagging_write_threshold = "+tc.threshold+"\n", 1)
			})
			extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_extra_total", Help: "Registered through Options.Collectors."})
			extra.Add(7)
			sh := newFakeShipper(map[string]int{"orders": 4}, true)
			s := startServer(t, cfg, sh, func(o *Options) { o.Collectors = []prometheus.Collector{extra} })
			cl := dial(t, s, codec.FramingRDSN)

			now := time.Now().UnixMicro()
			const sec = int64(time.Second / time.Microsecond)
			// orders: four entries received, three of them in the past
			// (2 s, 2 s, 60 s), one in the future (no lag observed, as in
			// Pegasus); all shipped.
			if e := dupReq(t, cl, 1, 5,
				putEntry("a", "s", "v", now-2*sec, 1), putEntry("b", "s", "v", now-2*sec, 1),
				putEntry("c", "s", "v", now-60*sec, 1), putEntry("d", "s", "v", now+60*sec, 1)); e != 0 {
				t.Fatalf("orders: error %d", e)
			}
			// An older write of key a: superseded, acknowledged, received.
			if e := dupReq(t, cl, 2, 5, putEntry("a", "s", "old", now-3*sec, 1)); e != 0 {
				t.Fatalf("superseded: error %d", e)
			}
			// Cluster id 3 on a master-only table: refused, the entry still
			// received (Pegasus counts before its checks), its lag observed.
			if e := dupReq(t, cl, 3, 5, putEntry("e", "s", "v", now-2*sec, 3)); e != ErrTryAgain {
				t.Fatalf("cluster id: error %d", e)
			}
			// open: follower layout not known yet.
			if e := dupReq(t, cl, 4, 6, putEntry("f", "s", "v", now, 1)); e != ErrTryAgain {
				t.Fatalf("no layout: error %d", e)
			}
			// Unknown app id.
			if e := dupReq(t, cl, 5, 99, putEntry("g", "s", "v", now, 1)); e != -1 {
				t.Fatalf("unknown app: error %d", e)
			}
			// Paused orders: refused before decoding, nothing received.
			s.SetPaused("orders", true)
			if e := dupReq(t, cl, 6, 5, putEntry("h", "s", "v", now, 1)); e != ErrTryAgain {
				t.Fatalf("paused: error %d", e)
			}

			got, help := scrape(t, s)
			const o, op = `{table="orders"}`, `{table="open"}`
			want := map[string]float64{
				"dup_requests" + o:                                                    6,
				"dup_requests" + op:                                                   0,
				"dup_lagging_writes" + o:                                              tc.wantLagging,
				"dup_lagging_writes" + op:                                             0,
				"dup_time_lag_ms_count" + o:                                           5,
				`dup_time_lag_ms_bucket{table="orders",le="1000"}`:                    0,
				`dup_time_lag_ms_bucket{table="orders",le="5000"}`:                    4,
				`dup_time_lag_ms_bucket{table="orders",le="10000"}`:                   4,
				`dup_time_lag_ms_bucket{table="orders",le="60000"}`:                   4,
				`dup_time_lag_ms_bucket{table="orders",le="300000"}`:                  5,
				`dup_time_lag_ms_bucket{table="orders",le="+Inf"}`:                    5,
				"dup_time_lag_ms_count" + op:                                          0,
				"dupbridge_duplicate_rpcs_total" + o:                                  4,
				"dupbridge_duplicate_rpcs_total" + op:                                 1,
				`dupbridge_duplicate_rpcs_total{table=""}`:                            1,
				"dupbridge_superseded_entries_total" + o:                              1,
				`dupbridge_requests_refused_total{cause="cluster_id",table="orders"}`: 1,
				`dupbridge_requests_refused_total{cause="paused",table="orders"}`:     1,
				`dupbridge_requests_refused_total{cause="malformed",table="orders"}`:  0,
				`dupbridge_requests_refused_total{cause="no_layout",table="open"}`:    1,
				`dupbridge_requests_refused_total{cause="no_layout",table="orders"}`:  0,
				`dupbridge_requests_refused_total{cause="unknown_table",table=""}`:    1,
				"dupbridge_table_paused" + o:                                          1,
				"dupbridge_table_paused" + op:                                         0,
				"dupbridge_accepted_entries_total":                                    5,
				"dupbridge_parts_total":                                               float64(len(sh.snapshot())),
				"dupbridge_acked_requests_total":                                      2,
				"dupbridge_retryable_requests_total":                                  4,
				"dupbridge_connections_open":                                          1,
				"dupbridge_connections_opened_total":                                  1,
				"dupbridge_inflight_requests":                                         0,
				"dupbridge_inflight_bytes":                                            0,
				"dupbridge_max_inflight_bytes":                                        64 << 20,
				`dupbridge_meta_requests_total{rpc="query_config"}`:                   0,
				"test_extra_total":                                                    7,
			}
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
			// Moved entries: those not of the request's partition 0.
			moved := 0
			for _, k := range []string{"a", "b", "c", "d"} {
				e := putEntry(k, "s", "v", 0, 1)
				h, _ := e.Hash()
				if mutation.PartitionIndex(h, 4) != 0 {
					moved++
				}
			}
			if g := got["dupbridge_moved_entries_total"+o]; g != float64(moved) {
				t.Errorf("moved = %v, want %d", g, moved)
			}
			// Lag sum: 2+2+60+3+2 s, plus the few ms the test took.
			if s := got["dup_time_lag_ms_sum"+o]; s < 69000 || s > 69000+5*5000 {
				t.Errorf("dup_time_lag_ms_sum = %v, want about 69000", s)
			}
			for _, name := range []string{"dup_requests", "dup_time_lag_ms", "dup_lagging_writes"} {
				if h := help[name]; !strings.Contains(h, "mirrors the Pegasus") || !strings.Contains(h, name) {
					t.Errorf("HELP %s = %q: should say it mirrors the Pegasus metric", name, h)
				}
			}
			for name, h := range help {
				if h == "" {
					t.Errorf("%s has no help", name)
				}
			}
			if _, ok := got["go_goroutines"]; !ok {
				t.Error("no go_goroutines: Go collector not registered")
			}
		})
	}
}

// TestMetricsRegistryPerServer: two servers in one process have their own
// registries (nothing global), so both can be built and scraped.
func TestMetricsRegistryPerServer(t *testing.T) {
	a := startServer(t, testConfig(t, nil), newFakeShipper(map[string]int{"orders": 4}, true), nil)
	b := startServer(t, testConfig(t, nil), newFakeShipper(map[string]int{"orders": 4}, true), nil)
	if a.Registry() == b.Registry() || a.Registry() == prometheus.DefaultRegisterer {
		t.Fatal("servers share a registry")
	}
	cl := dial(t, a, codec.FramingRDSN)
	if e := dupReq(t, cl, 1, 5, putEntry("k", "s", "v", time.Now().UnixMicro(), 1)); e != 0 {
		t.Fatalf("error %d", e)
	}
	ga, _ := scrape(t, a)
	gb, _ := scrape(t, b)
	if ga[`dup_requests{table="orders"}`] != 1 || gb[`dup_requests{table="orders"}`] != 0 {
		t.Errorf("a %v, b %v", ga[`dup_requests{table="orders"}`], gb[`dup_requests{table="orders"}`])
	}
}

// TestMetricsCollectorConflict: a collector clashing with the server's own
// metrics makes New fail instead of serving a broken /metrics.
func TestMetricsCollectorConflict(t *testing.T) {
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "dupbridge_stalls_total", Help: "x"})
	_, err := New(Options{Config: testConfig(t, nil), Shipper: newFakeShipper(nil, true), HTTPListen: "-",
		Collectors: []prometheus.Collector{clash}})
	if err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Fatalf("New = %v, want a metrics registration error", err)
	}
}

func post(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
	return rec
}

func tablePaused(t *testing.T, s *Server, name string) bool {
	t.Helper()
	rec := httptest.NewRecorder()
	s.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
	var st Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("/status: %v", err)
	}
	for _, ts := range st.Tables {
		if ts.Name == name {
			return ts.Paused
		}
	}
	t.Fatalf("/status has no table %s", name)
	return false
}

// TestPauseResumeHTTP drives POST /tables/{name}/pause and /resume: the
// answer, /status, the logs, and what happens to a master's request.
func TestPauseResumeHTTP(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	sh := newFakeShipper(map[string]int{"orders": 4, "open": 4}, true)
	s := startServer(t, testConfig(t, nil), sh, func(o *Options) { o.Logger = zap.New(core) })
	h := s.HTTPHandler()
	cl := dial(t, s, codec.FramingRDSN)
	ts := time.Now().UnixMicro()

	steps := []struct {
		method, path string
		code         int
		want         *PauseResult // decoded body on 200
		paused       bool         // orders in /status afterwards
		dupErr       int32        // a request to orders afterwards
		logMsg       string       // "" = no log expected
	}{
		{http.MethodPost, "/tables/orders/pause", 200, &PauseResult{Table: "orders", Paused: true}, true, ErrTryAgain, "table paused"},
		{http.MethodPost, "/tables/orders/pause", 200, &PauseResult{Table: "orders", Paused: true, WasPaused: true}, true, ErrTryAgain, "unchanged"},
		{http.MethodPost, "/tables/nope/pause", 404, nil, true, ErrTryAgain, ""},
		{http.MethodPost, "/tables/nope/resume", 404, nil, true, ErrTryAgain, ""},
		{http.MethodGet, "/tables/orders/resume", 405, nil, true, ErrTryAgain, ""},
		{http.MethodPost, "/tables/orders/resume", 200, &PauseResult{Table: "orders", Paused: false, WasPaused: true}, false, 0, "table resumed"},
		{http.MethodPost, "/tables/open/resume", 200, &PauseResult{Table: "open"}, false, 0, "unchanged"},
	}
	for i, st := range steps {
		logs.TakeAll()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(st.method, st.path, nil)
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		if rec.Code != st.code {
			t.Fatalf("step %d %s %s: %d %s, want %d", i, st.method, st.path, rec.Code, rec.Body, st.code)
		}
		if st.want != nil {
			var got PauseResult
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got != *st.want {
				t.Errorf("step %d: body %s (%v), want %+v", i, rec.Body, err, *st.want)
			}
		}
		if got := tablePaused(t, s, "orders"); got != st.paused {
			t.Errorf("step %d: /status paused = %v, want %v", i, got, st.paused)
		}
		entries := logs.TakeAll()
		if st.logMsg == "" {
			if len(entries) != 0 {
				t.Errorf("step %d: unexpected logs %v", i, entries)
			}
		} else if len(entries) != 1 || !strings.Contains(entries[0].Message, st.logMsg) ||
			entries[0].ContextMap()["table"] == nil || !strings.HasPrefix(entries[0].ContextMap()["by"].(string), "http ") {
			t.Errorf("step %d: logs %v, want one %q with table and by", i, entries, st.logMsg)
		}

		before := len(sh.snapshot())
		cl.send(cl.request(uint64(i), codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "v", ts+int64(i), 1))))
		f := cl.recv()
		r, err := mutation.ParseDupResponse(f.Body)
		if err != nil || string(f.ErrorName) != codec.ErrorOK {
			t.Fatalf("step %d: reply %v %q", i, err, f.ErrorName)
		}
		if r.Error != st.dupErr {
			t.Errorf("step %d: duplicate error %d, want %d", i, r.Error, st.dupErr)
		}
		shipped := len(sh.snapshot()) - before
		if st.paused && (shipped != 0 || !strings.Contains(string(r.ErrorHint), "paused")) {
			t.Errorf("step %d: paused table shipped %d parts, hint %q", i, shipped, r.ErrorHint)
		}
		if !st.paused && shipped != 1 {
			t.Errorf("step %d: resumed table shipped %d parts, want 1", i, shipped)
		}
	}
	if got := s.Stats().Paused; got != 5 {
		t.Errorf("Stats.Paused = %d, want 5", got)
	}
}
