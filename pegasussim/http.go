package pegasussim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// The control endpoint (Options.HTTPAddr) serves JSON, loopback only:
//
//	GET  /addresses                 {"meta": "...", "replicas": [...], "http": "..."}
//	GET  /tables                    [TableInfo]
//	GET  /counters                  Counters
//	GET  /dump?table=T[&all=1]      [Record] (Dump, or DumpAll with all=1)
//	GET  /placement?table=T         [Record] (CheckPlacement)
//	GET  /misplaced?table=T         [MisplacedKey]
//	POST /fault/close               {"endpoint": ""}                 → {"closed": n}
//	POST /fault/delay               {"rpc": "*", "delay": "100ms"}
//	POST /fault/error               {"rpc": "...", "error": "ERR_BUSY", "count": n}
//	POST /fault/dup-error           {"code": 13, "hint": "...", "count": n}
//	POST /fault/unavailable         {"table": "t", "partition": 0, "duration": "5s", "error": ""}
//	POST /fault/move                {"table": "t", "partition": 0, "to": 1} → {"ballot": b}
//	POST /fault/clear
//
// Errors are {"error": "..."} with status 400 (bad request) or 404 (unknown
// table).

// FaultRequest is the body of the POST /fault/* calls; each uses its own
// subset of the fields.
type FaultRequest struct {
	Endpoint  string `json:"endpoint,omitempty"`
	RPC       string `json:"rpc,omitempty"`
	Delay     string `json:"delay,omitempty"`
	Error     string `json:"error,omitempty"`
	Count     int    `json:"count,omitempty"`
	Code      int32  `json:"code,omitempty"`
	Hint      string `json:"hint,omitempty"`
	Table     string `json:"table,omitempty"`
	Partition int    `json:"partition,omitempty"`
	Duration  string `json:"duration,omitempty"`
	To        int    `json:"to,omitempty"`
}

func (c *Cluster) startHTTP(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pegasussim: control endpoint %s: %w", addr, err)
	}
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
		ln.Close()
		return fmt.Errorf("pegasussim: control endpoint %s is not on loopback: %w", ln.Addr(), ErrBadArgument)
	}
	c.httpLn = ln
	c.httpSrv = &http.Server{Handler: c.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.httpSrv.Serve(ln)
	}()
	return nil
}

// HTTPHandler is the control endpoint's handler, for callers that serve it
// themselves (e.g. with httptest).
func (c *Cluster) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /addresses", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"meta": c.MetaAddr(), "replicas": c.ReplicaAddrs(), "http": c.HTTPAddr()})
	})
	mux.HandleFunc("GET /tables", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, c.Tables()) })
	mux.HandleFunc("GET /counters", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, c.Counters()) })
	mux.HandleFunc("GET /dump", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("all") == "1" {
			reply[[]Record](w)(c.DumpAll(r.URL.Query().Get("table")))
			return
		}
		reply[[]Record](w)(c.Dump(r.URL.Query().Get("table")))
	})
	mux.HandleFunc("GET /placement", func(w http.ResponseWriter, r *http.Request) {
		reply[[]Record](w)(c.CheckPlacement(r.URL.Query().Get("table")))
	})
	mux.HandleFunc("GET /misplaced", func(w http.ResponseWriter, r *http.Request) {
		reply[[]MisplacedKey](w)(c.Misplaced(r.URL.Query().Get("table")))
	})
	fault := func(path string, f func(q *FaultRequest) (any, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			var q FaultRequest
			if r.ContentLength != 0 {
				if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&q); err != nil {
					writeErr(w, fmt.Errorf("pegasussim: %s: %w: %w", path, ErrBadArgument, err))
					return
				}
			}
			reply[any](w)(f(&q))
		})
	}
	fault("/fault/close", func(q *FaultRequest) (any, error) {
		n, err := c.CloseConnections(q.Endpoint)
		return map[string]int{"closed": n}, err
	})
	fault("/fault/delay", func(q *FaultRequest) (any, error) {
		d, err := parseDuration(q.Delay)
		if err != nil {
			return nil, err
		}
		c.SetDelay(orAll(q.RPC), d)
		return map[string]string{"rpc": orAll(q.RPC), "delay": d.String()}, nil
	})
	fault("/fault/error", func(q *FaultRequest) (any, error) {
		return ok(), c.InjectError(orAll(q.RPC), q.Error, max(q.Count, 1))
	})
	fault("/fault/dup-error", func(q *FaultRequest) (any, error) {
		return ok(), c.InjectDuplicateError(q.Code, q.Hint, max(q.Count, 1))
	})
	fault("/fault/unavailable", func(q *FaultRequest) (any, error) {
		d, err := parseDuration(q.Duration)
		if err != nil {
			return nil, err
		}
		return ok(), c.MakeUnavailable(q.Table, q.Partition, d, q.Error)
	})
	fault("/fault/move", func(q *FaultRequest) (any, error) {
		b, err := c.MovePrimary(q.Table, q.Partition, q.To)
		return map[string]int64{"ballot": b}, err
	})
	fault("/fault/clear", func(*FaultRequest) (any, error) {
		c.ClearFaults()
		return ok(), nil
	})
	return mux
}

func ok() map[string]bool { return map[string]bool{"ok": true} }

func orAll(rpc string) string {
	if rpc == "" {
		return AllRPCs
	}
	return rpc
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("pegasussim: duration %q: %w", s, ErrBadArgument)
	}
	return d, nil
}

func reply[T any](w http.ResponseWriter) func(T, error) {
	return func(v T, err error) {
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, v)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	if errors.Is(err, ErrUnknownTable) {
		status = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
