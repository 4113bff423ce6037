package server

import (
	"crypto/subtle"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// TableStatus is one table in /status.
type TableStatus struct {
	Name                     string `json:"name"`
	AppID                    int32  `json:"app_id"`
	SourceTable              string `json:"source_table"`
	FollowerCluster          string `json:"follower_cluster"`
	FollowerTable            string `json:"follower_table"`
	FollowerPartitionCount   int    `json:"follower_partition_count"`   // 0 = not known yet
	AdvertisedPartitionCount int    `json:"advertised_partition_count"` // 0 = not known yet
	FailurePolicy            string `json:"failure_policy"`
	Paused                   bool   `json:"paused"`
	CreatedByMaster          bool   `json:"created_by_master"`
	FollowerAppStatus        string `json:"follower_app_status,omitempty"`
	// CheckpointLoad is the full duplication's checkpoint load: waiting,
	// running, "retrying: <last error>" or done; empty when none.
	CheckpointLoad string `json:"checkpoint_load,omitempty"`
	// LastAckedTimestampUs is the newest master timestamp (µs since the
	// epoch) of an entry applied downstream and acknowledged; 0 = none yet.
	LastAckedTimestampUs int64 `json:"last_acked_timestamp_us"`
	// InflightEntries are entries received and not yet applied downstream.
	InflightEntries int64 `json:"inflight_entries"`
}

// Status is the /status document.
type Status struct {
	Listen           string        `json:"listen"`
	AdvertisedAddr   string        `json:"advertised_address"`
	AdvertisedHost   string        `json:"advertised_host"`
	SendHostPort     bool          `json:"send_host_port"`
	MaxInflightBytes int64         `json:"max_inflight_bytes"`
	Draining         bool          `json:"draining"`
	Tables           []TableStatus `json:"tables"`
	Counters         Stats         `json:"counters"`
	Follower         any           `json:"follower,omitempty"`
	MetaProxy        any           `json:"meta_proxy,omitempty"`
}

// Status builds the status document. Any goroutine.
func (s *Server) Status() Status {
	st := Status{
		AdvertisedAddr:   s.cfg.Bridge.AdvertisedAddr.String(),
		AdvertisedHost:   s.cfg.Bridge.AdvertisedHost,
		SendHostPort:     s.cfg.Bridge.SendHostPort,
		MaxInflightBytes: s.maxInflight.Load(),
		Draining:         s.draining.Load(),
		Counters:         s.Stats(),
	}
	if s.opts.FollowerStatus != nil {
		st.Follower = s.opts.FollowerStatus()
	}
	if s.opts.ExtraStatus != nil {
		st.MetaProxy = s.opts.ExtraStatus()
	}
	if a := s.Addr(); a != nil {
		st.Listen = a.String()
	}
	for _, ts := range s.tabs().byName {
		ts.mu.Lock()
		created, status, loading := ts.exists, ts.rec.Status, ts.loading
		load := ""
		switch {
		case !created || ts.rec.MasterCluster == "":
		case ts.rec.Loaded:
			load = "done"
		case ts.rec.LoadError != "":
			load = "retrying: " + ts.rec.LoadError
		case loading:
			load = "running"
		default:
			load = "waiting"
		}
		ts.mu.Unlock()
		_ = loading
		st.Tables = append(st.Tables, TableStatus{
			Name: ts.cfg.Name, AppID: ts.cfg.AppID, SourceTable: ts.cfg.SourceTable,
			FollowerCluster: ts.cfg.FollowerCluster, FollowerTable: ts.cfg.FollowerTable,
			FollowerPartitionCount:   s.shipper.PartitionCount(ts.cfg.Name),
			AdvertisedPartitionCount: s.advertisedCount(ts),
			FailurePolicy:            ts.cfg.FailurePolicy.String(),
			Paused:                   ts.paused.Load(),
			CreatedByMaster:          created,
			FollowerAppStatus:        status,
			CheckpointLoad:           load,
			LastAckedTimestampUs:     ts.lastAckedUs.Load(),
			InflightEntries:          ts.inflightEntries.Load(),
		})
	}
	sort.Slice(st.Tables, func(i, j int) bool { return st.Tables[i].AppID < st.Tables[j].AppID })
	return st
}

// PauseResult is the answer of POST /tables/{name}/pause and /resume.
type PauseResult struct {
	Table     string `json:"table"`
	Paused    bool   `json:"paused"`
	WasPaused bool   `json:"was_paused"`
}

// HTTPHandler serves /status (JSON), /healthz ("ok", or 503 while
// draining), /readyz (Readiness as JSON, 503 when not ready), /metrics
// (Prometheus text format, from the Server's registry) and POST
// /tables/{name}/pause and /resume (404 for a table not configured;
// guarded by adminOnly). Any goroutine.
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	errLog, _ := zap.NewStdLogAt(s.log, zap.WarnLevel) // only fails for an invalid level
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      errLog,
	}))
	pause := func(paused bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			res, err := s.setPaused(name, paused, "http "+r.RemoteAddr)
			if err != nil {
				writeControlError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, PauseResult{Table: name, Paused: paused, WasPaused: res.WasState == StatePaused})
		}
	}
	mux.Handle("POST /tables/{name}/pause", s.adminOnly(pause(true)))
	mux.Handle("POST /tables/{name}/resume", s.adminOnly(pause(false)))
	mux.Handle("POST /tables/{name}/control", s.adminOnly(http.HandlerFunc(s.serveControl)))
	mux.Handle("POST /log-level", s.adminOnly(http.HandlerFunc(s.serveLogLevel)))
	mux.Handle("POST /reload", s.adminOnly(http.HandlerFunc(s.serveReload)))
	mux.HandleFunc("GET /duplication", s.serveDuplication)
	mux.Handle("/debug/pprof/", s.tokenOnly(http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/cmdline", s.tokenOnly(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("/debug/pprof/profile", s.tokenOnly(http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/symbol", s.tokenOnly(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("/debug/pprof/trace", s.tokenOnly(http.HandlerFunc(pprof.Trace)))
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Status())
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		r := s.Readiness(time.Now())
		w.Header().Set("Content-Type", "application/json")
		if !r.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
	})
	// Liveness only: the process serves HTTP and is not draining. A dead
	// follower is /readyz's business, not a reason to restart the bridge.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// tokenOnly guards a reading call that exposes the process (pprof): with
// admin_token set the request must carry it; without one the HTTP port is
// loopback or declared trusted (admin_insecure), and a cross-site page can
// start a profile but never read it.
func (s *Server) tokenOnly(h http.Handler) http.Handler {
	token := []byte(s.cfg.Bridge.AdminToken)
	if len(token) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearerOK(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dupbridge"`)
			s.refuseAdmin(w, r, http.StatusUnauthorized, "missing or wrong bearer token (admin_token)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearerOK reports whether r carries token as its bearer token (compared
// in constant time).
func bearerOK(r *http.Request, token []byte) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), token) == 1
}

// adminOnly guards a mutating call. With admin_token set, the request must
// carry it as a bearer token (compared in constant time). Without one (the
// configuration allows that on loopback, or with admin_insecure), a browser
// must not be able to forge the call from another site's page: the request
// must declare a JSON body, which a cross-site form or no-cors fetch cannot
// send without a CORS preflight that is never answered, and carry no
// cross-origin Origin or Sec-Fetch-Site (net/http's CrossOriginProtection).
func (s *Server) adminOnly(h http.Handler) http.Handler {
	token := []byte(s.cfg.Bridge.AdminToken)
	csrf := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(token) > 0 {
			if !bearerOK(r, token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="dupbridge"`)
				s.refuseAdmin(w, r, http.StatusUnauthorized, "missing or wrong bearer token (admin_token)")
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			s.refuseAdmin(w, r, http.StatusUnsupportedMediaType, "send Content-Type: application/json (cross-site request guard)")
			return
		}
		if err := csrf.Check(r); err != nil {
			s.refuseAdmin(w, r, http.StatusForbidden, "cross-origin request refused")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// refuseAdmin answers a refused admin call and logs who tried it (sampled
// like every repeated warning).
func (s *Server) refuseAdmin(w http.ResponseWriter, r *http.Request, code int, reason string) {
	s.log.Warn("admin HTTP call refused", zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr),
		zap.String("origin", r.Header.Get("Origin")), zap.String("reason", reason))
	http.Error(w, reason, code)
}
