package follower

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/internal/promtext"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/pegasussim"
	"github.com/dupbridge/dupbridge/server"
)

// TestReadyWhenFollowerDies: with the simulated follower up, /readyz is 200
// and every table ready. The simulator is then killed (Close) while a
// master's request is in flight: within ready_follower_timeout plus the
// router's backoff, /readyz turns 503 naming the follower and the
// unacknowledged request's age, dupbridge_follower_reachable{table} drops
// to 0, and /healthz (liveness) stays 200.
func TestReadyWhenFollowerDies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := pegasussim.Start(ctx, pegasussim.Options{
		Tables: []pegasussim.TableSpec{{Name: "temp", Partitions: 4}}, ClusterID: 4,
		DupGroup: map[string]uint8{"A": 1, "F": 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	text := fmt.Sprintf(`[pegasus.clusters]
  F = %s
[duplication-group]
  A = 1
  B = 2
[dupbridge]
  listen = 127.0.0.1:0
  advertised_address = 127.0.0.1:34801
  cluster_name = B
  shutdown_timeout = 1s
  event_loops = 1
  ready_follower_timeout = 300ms
  ready_lag_threshold = 500ms
[table.temp]
  follower_cluster = F
  master_cluster = A
`, sim.MetaAddr())
	_, srv := startBridge(t, text, map[string]int{"temp": 4})
	h := srv.HTTPHandler()
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}

	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sendDup(t, conn, 1, "k1")
	if _, err := conn.Read(make([]byte, 4096)); err != nil { // the ack
		t.Fatal(err)
	}
	if rec := get("/readyz"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ready": true`) {
		t.Fatalf("/readyz with the follower up: %d %s", rec.Code, rec.Body)
	}
	if g := scrape(t, h)[`dupbridge_follower_reachable{table="temp"}`]; g != 1 {
		t.Errorf("dupbridge_follower_reachable = %v with the follower up", g)
	}
	checkSnakeCase(t, get("/status").Body.Bytes())

	killed := time.Now()
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}
	sendDup(t, conn, 2, "k2") // stays unacknowledged: the follower is gone

	var r server.Readiness
	for {
		rec := get("/readyz")
		if rec.Code == http.StatusServiceUnavailable {
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if len(r.Tables) == 1 && len(r.Tables[0].Reasons) == 2 {
				break
			}
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("/readyz still %d 10 s after the follower died: %s", rec.Code, rec.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tr := r.Tables[0]
	if r.Ready || tr.Ready || tr.Table != "temp" ||
		!strings.Contains(tr.Reasons[0], "follower F/temp unreachable for") || !strings.Contains(tr.Reasons[0], "ready_follower_timeout 300ms") ||
		!strings.Contains(tr.Reasons[1], "oldest unacknowledged request is") || tr.OldestUnackedSeconds <= 0.5 {
		t.Errorf("readiness = %+v", r)
	}
	if rec := get("/healthz"); rec.Code != 200 {
		t.Errorf("/healthz = %d %s while the follower is dead, want 200 (liveness only)", rec.Code, rec.Body)
	}
	m := scrape(t, h)
	if g := m[`dupbridge_follower_reachable{table="temp"}`]; g != 0 {
		t.Errorf("dupbridge_follower_reachable = %v with the follower dead", g)
	}
	if g := m[`dupbridge_oldest_unacked_request_seconds{table="temp"}`]; g <= 0.5 {
		t.Errorf("dupbridge_oldest_unacked_request_seconds = %v", g)
	}
}

// sendDup sends one duplicate request with one put of key hk.
func sendDup(t *testing.T, conn net.Conn, id uint64, hk string) {
	t.Helper()
	var w mutation.DupRequestWriter
	w.Begin(nil, 0)
	raw := mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte(hk), []byte("s")), []byte("v"), 0)
	e := mutation.DupEntry{Timestamp: time.Now().UnixMicro(), TaskCode: []byte(codec.RPCPut), RawMessage: raw, ClusterID: 1, HasClusterID: true}
	w.AppendEntry(&e)
	hdr := codec.RequestHeader{ID: id, RPCName: codec.RPCDuplicate, AppID: 1, PartitionIndex: 0, TimeoutMs: 10000, Context: codec.ContextCppRequest}
	if _, err := conn.Write(codec.AppendRequest(nil, codec.FramingRDSN, &hdr, w.Finish())); err != nil {
		t.Fatal(err)
	}
}

func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	m, _, err := promtext.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkSnakeCase: every field name in /status is snake_case; the keys of
// maps (table names under "follower", error names under "errors") are data.
func checkSnakeCase(t *testing.T, doc []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(path string, v any, data bool)
	walk = func(path string, v any, data bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if !data && !snake.MatchString(k) {
					t.Errorf("/status field %s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, c, !data && (k == "follower" || k == "errors"))
			}
		case []any:
			for _, c := range x {
				walk(path+"[]", c, false)
			}
		}
	}
	walk("", v, false)
	if !strings.Contains(string(doc), `"shipped_batches"`) {
		t.Errorf("/status lacks the router statistics: %s", doc)
	}
}
