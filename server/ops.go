package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dupbridge/dupbridge/ctlstate"
)

// The operator's HTTP calls beyond /status: /duplication (Pegasus's
// /meta/app/duplication for the bridge), table controls, the log level and
// reload. `dupbridge ctl` is their client.

// FollowerPartition is one follower partition of a table in /duplication.
type FollowerPartition struct {
	Partition int `json:"partition"`
	// LastAckedTimestampUs: the newest master timestamp (µs) of an entry
	// the follower acknowledged; 0 before the first.
	LastAckedTimestampUs int64  `json:"last_acked_timestamp_us"`
	InFlight             bool   `json:"in_flight"`
	Queued               int    `json:"queued"`
	QueuedBytes          int64  `json:"queued_bytes"`
	SpooledBytes         int64  `json:"spooled_bytes"`
	ShippedEntries       uint64 `json:"shipped_entries"`
	Retries              uint64 `json:"retries"`
	SkippedEntries       uint64 `json:"skipped_entries"`
	LastError            string `json:"last_error,omitempty"`
}

// FollowerReporter is implemented by shippers that can describe a table's
// follower partitions (server/follower). Any goroutine.
type FollowerReporter interface {
	FollowerPartitions(table string) []FollowerPartition
}

// TableDuplication is one table in /duplication.
type TableDuplication struct {
	Name              string `json:"name"`
	AppID             int32  `json:"app_id"`
	SourceTable       string `json:"source_table"`
	State             string `json:"state"`
	FailMode          string `json:"fail_mode"`
	SkipAfterAttempts int    `json:"skip_after_attempts,omitempty"`
	FollowerCluster   string `json:"follower_cluster"`
	FollowerTable     string `json:"follower_table"`
	// FollowerPartitionCount is 0 until the follower table is open.
	FollowerPartitionCount int `json:"follower_partition_count"`
	// Received entries, refused requests and the oldest request not yet
	// acknowledged to a master.
	ReceivedEntries     int64   `json:"received_entries"`
	RefusedRequests     int64   `json:"refused_requests"`
	OldestUnackedSecond float64 `json:"oldest_unacked_seconds"`
	// The table's lag in one place (what `proxy switch` reads):
	// LastAckedTimestampUs is the newest master timestamp (µs) of an entry
	// applied downstream and acknowledged to a master (0: none yet);
	// InflightEntries were received and are not applied yet; SpooledEntries
	// are held in a spool this process keeps for the table (0 without one,
	// see SpoolReporter).
	LastAckedTimestampUs int64               `json:"last_acked_timestamp_us"`
	InflightEntries      int64               `json:"inflight_entries"`
	SpooledEntries       int64               `json:"spooled_entries"`
	FollowerError        string              `json:"follower_error,omitempty"`
	Partitions           []FollowerPartition `json:"partitions"`
}

// SpoolReporter is implemented by shippers that keep a durable spool: the
// entries of table held there and not yet applied downstream. Any
// goroutine.
type SpoolReporter interface {
	SpooledEntries(table string) int64
}

// Duplication is the /duplication document.
type Duplication struct {
	Time time.Time `json:"time"`
	// Role is the process's role: empty for a direct bridge or an edge
	// (whose tables are paused there), "sink" for a WAN sink, which does
	// not see what the edge still spools.
	Role   string             `json:"role,omitempty"`
	Tables []TableDuplication `json:"tables"`
}

// Duplication describes the configured tables, or only table when it is
// not empty (ErrUnknownTable when it is not configured). Any goroutine.
func (s *Server) Duplication(table string) (Duplication, error) {
	now := time.Now()
	d := Duplication{Time: now.UTC()}
	for name, ts := range s.tabs().byName {
		if table != "" && name != table {
			continue
		}
		d.Tables = append(d.Tables, s.tableDuplication(ts, now))
	}
	if table != "" && len(d.Tables) == 0 {
		return d, errors.New(ErrUnknownTable.Error() + " " + strconv.Quote(table))
	}
	sort.Slice(d.Tables, func(i, j int) bool { return d.Tables[i].AppID < d.Tables[j].AppID })
	return d, nil
}

func (s *Server) tableDuplication(ts *tableState, now time.Time) TableDuplication {
	p, n := ts.failMode()
	td := TableDuplication{
		Name: ts.cfg.Name, AppID: ts.cfg.AppID, SourceTable: ts.cfg.SourceTable, State: ts.state(),
		FailMode: p.String(), SkipAfterAttempts: n,
		FollowerCluster: ts.cfg.FollowerCluster, FollowerTable: ts.cfg.FollowerTable,
		FollowerPartitionCount: s.shipper.PartitionCount(ts.cfg.Name),
		ReceivedEntries:        counterValue(ts.m.requests),
		LastAckedTimestampUs:   ts.lastAckedUs.Load(),
		InflightEntries:        ts.inflightEntries.Load(),
		Partitions:             []FollowerPartition{},
	}
	if sr, ok := s.shipper.(SpoolReporter); ok {
		td.SpooledEntries = sr.SpooledEntries(ts.cfg.Name)
	}
	for _, c := range ts.m.refused {
		td.RefusedRequests += counterValue(c)
	}
	if since := ts.pending.oldest(); !since.IsZero() {
		td.OldestUnackedSecond = now.Sub(since).Seconds()
	}
	if _, why := s.followerFailing(ts); why != "" {
		td.FollowerError = why
	}
	if fr, ok := s.shipper.(FollowerReporter); ok {
		if ps := fr.FollowerPartitions(ts.cfg.Name); ps != nil {
			td.Partitions = ps
		}
	}
	return td
}

// writeJSON answers v as indented JSON with code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ErrorAnswer is the body of every failed operator call.
type ErrorAnswer struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems,omitempty"`
}

// writeControlError maps a control error to its status: 404 for an unknown
// table, 400 for a bad request, 500 otherwise (e.g. persisting failed).
func writeControlError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrUnknownTable):
		code = http.StatusNotFound
	case errors.Is(err, ErrBadControl):
		code = http.StatusBadRequest
	}
	writeJSON(w, code, ErrorAnswer{Error: err.Error()})
}

// maxControlBody bounds an operator call's JSON body.
const maxControlBody = 64 << 10

// decodeBody decodes r's JSON body into v; an empty body leaves v as is.
func decodeBody(r *http.Request, v any) error {
	err := json.NewDecoder(io.LimitReader(r.Body, maxControlBody)).Decode(v)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return errors.Join(ErrBadControl, err)
}

// serveControl is POST /tables/{name}/control with a ControlRequest body.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	var req ControlRequest
	if err := decodeBody(r, &req); err != nil {
		writeControlError(w, err)
		return
	}
	res, err := s.Control(r.PathValue("name"), req, "http "+r.RemoteAddr)
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// LogLevelRequest is the body of POST /log-level (and its answer, with the
// level before).
type LogLevelRequest struct {
	Level string `json:"level"`
	Was   string `json:"was,omitempty"`
}

// LogLevelHandler is POST /log-level: the process's log level, changed
// at once (nil level: 501, the process was started without a changeable
// one), logged on log. Every role serves it behind AdminGuard.AdminOnly.
func LogLevelHandler(level *zap.AtomicLevel, log *zap.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if level == nil {
			writeJSON(w, http.StatusNotImplemented, ErrorAnswer{Error: "this process was started without a changeable log level"})
			return
		}
		var req LogLevelRequest
		if err := decodeBody(r, &req); err != nil {
			writeControlError(w, err)
			return
		}
		lvl, err := zapcore.ParseLevel(req.Level)
		if err != nil || req.Level == "" {
			writeControlError(w, errors.Join(ErrBadControl, errors.New("log level "+strconv.Quote(req.Level)+": want debug, info, warn or error")))
			return
		}
		was := level.Level()
		level.SetLevel(lvl)
		log.Warn("log level changed", zap.Stringer("level", lvl), zap.Stringer("was", was), zap.String("by", "http "+r.RemoteAddr))
		writeJSON(w, http.StatusOK, LogLevelRequest{Level: lvl.String(), Was: was.String()})
	}
}

// ReloadResult is the answer of POST /reload.
type ReloadResult struct {
	Applied bool `json:"applied"`
	// Changes describe what the reload changed (tables added, removed,
	// limits and fail modes); Problems every problem of an invalid file,
	// with its line, when nothing was applied.
	Changes  []string `json:"changes,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// Reloader re-reads the configuration (serve's SIGHUP handler).
type Reloader func(ctx context.Context) (ReloadResult, error)

// serveReload is POST /reload: Options.Reload, answered 200 when the new
// configuration was applied and 422 with every problem when not.
func (s *Server) serveReload(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reload == nil {
		writeJSON(w, http.StatusNotImplemented, ErrorAnswer{Error: "this bridge was started without a configuration file to reload"})
		return
	}
	res, err := s.opts.Reload(r.Context())
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, ErrorAnswer{Error: err.Error(), Problems: res.Problems})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// stateDirProblem is why the state directory cannot be written ("" when
// it can): /readyz.
func (s *Server) stateDirProblem() string {
	if err := ctlstate.CheckWritable(s.stateDir); err != nil {
		return err.Error()
	}
	return ""
}
