package server

import (
	"encoding/json"
	"net/http"
	"sort"

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
// guarded by AdminGuard.AdminOnly). Any goroutine.
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	g := NewAdminGuard(s.cfg.Bridge.AdminToken, s.log)
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
	mux.Handle("POST /tables/{name}/pause", g.AdminOnly(pause(true)))
	mux.Handle("POST /tables/{name}/resume", g.AdminOnly(pause(false)))
	mux.Handle("POST /tables/{name}/control", g.AdminOnly(http.HandlerFunc(s.serveControl)))
	mux.Handle("POST /log-level", g.AdminOnly(LogLevelHandler(s.opts.LogLevel, s.log)))
	mux.Handle("POST /reload", g.AdminOnly(http.HandlerFunc(s.serveReload)))
	mux.HandleFunc("GET /duplication", DuplicationHandler(s.Duplication))
	g.Pprof(mux)
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Status())
	})
	ServeHealth(mux, s.draining.Load, s.Readiness)
	return mux
}
