package server

import (
	"encoding/json"
	"net/http"
	"sort"
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
}

// Status builds the status document. Any goroutine.
func (s *Server) Status() Status {
	st := Status{
		AdvertisedAddr:   s.cfg.Bridge.AdvertisedAddr.String(),
		AdvertisedHost:   s.cfg.Bridge.AdvertisedHost,
		SendHostPort:     s.cfg.Bridge.SendHostPort,
		MaxInflightBytes: s.maxInflight,
		Draining:         s.draining.Load(),
		Counters:         s.Stats(),
	}
	if s.opts.FollowerStatus != nil {
		st.Follower = s.opts.FollowerStatus()
	}
	if a := s.Addr(); a != nil {
		st.Listen = a.String()
	}
	for _, ts := range s.tables {
		ts.mu.Lock()
		created, status := ts.exists, ts.status
		ts.mu.Unlock()
		st.Tables = append(st.Tables, TableStatus{
			Name: ts.cfg.Name, AppID: ts.cfg.AppID, SourceTable: ts.cfg.SourceTable,
			FollowerCluster: ts.cfg.FollowerCluster, FollowerTable: ts.cfg.FollowerTable,
			FollowerPartitionCount:   s.shipper.PartitionCount(ts.cfg.Name),
			AdvertisedPartitionCount: s.advertisedCount(ts),
			FailurePolicy:            ts.cfg.FailurePolicy.String(),
			Paused:                   ts.paused.Load(),
			CreatedByMaster:          created,
			FollowerAppStatus:        status,
		})
	}
	sort.Slice(st.Tables, func(i, j int) bool { return st.Tables[i].AppID < st.Tables[j].AppID })
	return st
}

// HTTPHandler serves /status (JSON) and /healthz ("ok", or 503 while
// draining). Any goroutine.
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Status())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
