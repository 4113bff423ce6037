package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/ctlstate"
	"github.com/dupbridge/dupbridge/mutation"
)

func serve(t *testing.T, h http.Handler, method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestAdminCallsNeedToken: with admin_token set, every mutating call and
// pprof are refused without it (and change nothing), and pass with it.
func TestAdminCallsNeedToken(t *testing.T) {
	const token = "s3cret-token-0123456789"
	cfg := testConfig(t, func(s string) string {
		return strings.Replace(s, "  event_loops = 2\n", "  event_loops = 2\n  admin_token = "+token+"\n", 1)
	})
	lvl := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	s, err := New(Options{Config: cfg, Shipper: newFakeShipper(nil, true), LogLevel: &lvl,
		Reload: func(context.Context) (ReloadResult, error) { return ReloadResult{Applied: true}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	h := s.HTTPHandler()
	calls := []struct{ method, path, body string }{
		{http.MethodPost, "/tables/orders/control", `{"action":"pause"}`},
		{http.MethodPost, "/tables/orders/control", `{"action":"remove"}`},
		{http.MethodPost, "/tables/orders/control", `{"action":"fail-mode","fail_mode":"skip"}`},
		{http.MethodPost, "/tables/orders/pause", ``},
		{http.MethodPost, "/log-level", `{"level":"debug"}`},
		{http.MethodPost, "/reload", `{}`},
		{http.MethodGet, "/debug/pprof/", ``},
		{http.MethodGet, "/debug/pprof/cmdline", ``},
	}
	for _, c := range calls {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Basic " + token} {
			rec := serve(t, h, c.method, c.path, c.body, map[string]string{"Content-Type": "application/json", "Authorization": auth})
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s %s with %q: %d, want 401", c.method, c.path, auth, rec.Code)
			}
		}
	}
	ts := s.tabs().byName["orders"]
	if ts.state() != StateRunning || ts.fail.Load().policy != config.PolicySlow || lvl.Level() != zapcore.InfoLevel {
		t.Fatalf("refused calls changed state: %s, %s, level %s", ts.state(), ts.fail.Load().policy, lvl.Level())
	}
	if _, err := os.Stat(filepath.Join(cfg.Bridge.StateDir, ctlstate.FileName)); err == nil {
		t.Error("refused calls wrote the state file")
	}
	for _, c := range calls {
		rec := serve(t, h, c.method, c.path, c.body, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token})
		if rec.Code != http.StatusOK {
			t.Errorf("%s %s with the token: %d %s", c.method, c.path, rec.Code, rec.Body)
		}
	}
	if ts.state() != StateRemoved || lvl.Level() != zapcore.DebugLevel {
		t.Errorf("calls with the token: state %s, level %s", ts.state(), lvl.Level())
	}
}

// TestControlCalls drives POST /tables/NAME/control step by step: the
// answer, the refusal a master gets afterwards, and the file on disk.
func TestControlCalls(t *testing.T) {
	cfg := testConfig(t, nil)
	sh := newFakeShipper(map[string]int{"orders": 4, "open": 4}, true)
	s := startServer(t, cfg, sh, nil)
	h := s.HTTPHandler()
	cl := dial(t, s, codec.FramingRDSN)
	steps := []struct {
		body      string
		code      int
		state     string
		failMode  string
		attempts  int
		dupErr    int32
		hint      string
		persisted map[string]ctlstate.Table // orders' entry; nil: no entry
	}{
		{`{"action":"pause"}`, 200, StatePaused, "slow", 0, ErrTryAgain, "paused", map[string]ctlstate.Table{"orders": {Paused: true}}},
		{`{"action":"remove"}`, 200, StateRemoved, "slow", 0, ErrTryAgain, "removed from duplication", map[string]ctlstate.Table{"orders": {Paused: true, Removed: true}}},
		{`{"action":"start"}`, 200, StateRunning, "slow", 0, 0, "", nil},
		{`{"action":"fail-mode","fail_mode":"skip"}`, 200, StateRunning, "skip", defaultSkipAttempts, 0, "", map[string]ctlstate.Table{"orders": {FailMode: "skip", SkipAfterAttempts: defaultSkipAttempts}}},
		{`{"action":"fail-mode","fail_mode":"skip","skip_after_attempts":3}`, 200, StateRunning, "skip", 3, 0, "", map[string]ctlstate.Table{"orders": {FailMode: "skip", SkipAfterAttempts: 3}}},
		{`{"action":"fail-mode","fail_mode":"fast"}`, 400, StateRunning, "skip", 3, 0, "", map[string]ctlstate.Table{"orders": {FailMode: "skip", SkipAfterAttempts: 3}}},
		{`{"action":"explode"}`, 400, StateRunning, "skip", 3, 0, "", map[string]ctlstate.Table{"orders": {FailMode: "skip", SkipAfterAttempts: 3}}},
		{`{"action":`, 400, StateRunning, "skip", 3, 0, "", map[string]ctlstate.Table{"orders": {FailMode: "skip", SkipAfterAttempts: 3}}},
		{`{"action":"fail-mode","fail_mode":"slow"}`, 200, StateRunning, "slow", 0, 0, "", nil},
	}
	ts := time.Now().UnixMicro()
	for i, st := range steps {
		rec := serve(t, h, http.MethodPost, "/tables/orders/control", st.body, map[string]string{"Content-Type": "application/json"})
		if rec.Code != st.code {
			t.Fatalf("step %d %s: %d %s, want %d", i, st.body, rec.Code, rec.Body, st.code)
		}
		if st.code == 200 {
			var r ControlResult
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.State != st.state || r.FailMode != st.failMode ||
				r.SkipAfterAttempts != st.attempts || !r.Persisted {
				t.Errorf("step %d: answer %s (%v)", i, rec.Body, err)
			}
		} else {
			var ea ErrorAnswer
			if err := json.Unmarshal(rec.Body.Bytes(), &ea); err != nil || ea.Error == "" {
				t.Errorf("step %d: error answer %s (%v)", i, rec.Body, err)
			}
		}
		d, err := s.Duplication("orders")
		if err != nil || d.Tables[0].State != st.state || d.Tables[0].FailMode != st.failMode {
			t.Errorf("step %d: /duplication %+v (%v)", i, d, err)
		}
		saved, err := ctlstate.Load(cfg.Bridge.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		got := saved.Tables["orders"]
		want, has := st.persisted["orders"]
		if _, ok := saved.Tables["orders"]; ok != has || got.Paused != want.Paused || got.Removed != want.Removed ||
			got.FailMode != want.FailMode || got.SkipAfterAttempts != want.SkipAfterAttempts {
			t.Errorf("step %d: persisted %+v (present %v), want %+v (present %v)", i, got, ok, want, has)
		}
		cl.send(cl.request(uint64(i), codec.RPCDuplicate, 5, 0, dupBody(0, putEntry("k", "s", "v", ts+int64(i), 1))))
		r, err := mutation.ParseDupResponse(cl.recv().Body)
		if err != nil || r.Error != st.dupErr || !strings.Contains(string(r.ErrorHint), st.hint) {
			t.Errorf("step %d: master got error %d hint %q (%v), want %d %q", i, r.Error, r.ErrorHint, err, st.dupErr, st.hint)
		}
	}
	if rec := serve(t, h, http.MethodPost, "/tables/nope/control", `{"action":"pause"}`, map[string]string{"Content-Type": "application/json"}); rec.Code != 404 {
		t.Errorf("unknown table: %d", rec.Code)
	}
	if st := s.Stats(); st.Paused != 1 || st.Removed != 1 {
		t.Errorf("Stats: paused %d removed %d, want 1 and 1", st.Paused, st.Removed)
	}
}

// TestControlsSurviveRestart: a new server over the same state_dir comes
// up with the controls of the last one.
func TestControlsSurviveRestart(t *testing.T) {
	cfg := testConfig(t, nil)
	sh := newFakeShipper(map[string]int{"orders": 4, "open": 4}, true)
	s1, err := New(Options{Config: cfg, Shipper: sh})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		table string
		req   ControlRequest
	}{
		{"orders", ControlRequest{Action: ActionRemove}},
		{"open", ControlRequest{Action: ActionPause}},
		{"open", ControlRequest{Action: ActionFailMode, FailMode: "skip", SkipAfterAttempts: 7}},
	} {
		if _, err := s1.Control(c.table, c.req, "test"); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := New(Options{Config: testConfig(t, nil), Shipper: sh, StateDir: cfg.Bridge.StateDir})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s2.Duplication("")
	got := map[string]string{}
	for _, td := range d.Tables {
		got[td.Name] = td.State + "/" + td.FailMode + "/" + strconv.Itoa(td.SkipAfterAttempts)
	}
	want := map[string]string{"orders": "removed/slow/0", "open": "paused/skip/7"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after restart %v, want %v", got, want)
	}
	// A corrupt state file stops the start with its name.
	if err := os.WriteFile(filepath.Join(cfg.Bridge.StateDir, ctlstate.FileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Config: testConfig(t, nil), Shipper: sh, StateDir: cfg.Bridge.StateDir}); err == nil || !strings.Contains(err.Error(), ctlstate.FileName) {
		t.Errorf("New over a corrupt state file: %v", err)
	}
}

// TestControlNotPersisted: when the state cannot be written, the call
// fails (500) and nothing changes; /readyz says why.
func TestControlNotPersisted(t *testing.T) {
	cfg := testConfig(t, nil)
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Bridge.StateDir = filepath.Join(blocker, "state") // under a file: cannot exist
	s, err := New(Options{Config: cfg, Shipper: newFakeShipper(nil, true)})
	if err != nil {
		t.Fatal(err)
	}
	h := s.HTTPHandler()
	rec := serve(t, h, http.MethodPost, "/tables/orders/control", `{"action":"pause"}`, map[string]string{"Content-Type": "application/json"})
	if rec.Code != 500 || s.tabs().byName["orders"].state() != StateRunning {
		t.Errorf("pause with an unwritable state_dir: %d %s, state %s", rec.Code, rec.Body, s.tabs().byName["orders"].state())
	}
	rec = serve(t, h, http.MethodGet, "/readyz", "", nil)
	var r Readiness
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || rec.Code != 503 || r.Ready || r.StateDirProblem == "" {
		t.Errorf("/readyz with an unwritable state_dir: %d %s", rec.Code, rec.Body)
	}
}

// TestReload applies a new configuration: a table added (served, with
// metrics), one removed (its requests answered as an unknown table), a
// fail mode and a limit changed; a file changing a restart-only key is
// refused whole.
func TestReload(t *testing.T) {
	cfg := testConfig(t, nil)
	sh := newFakeShipper(map[string]int{"orders": 4, "open": 4, "extra": 4}, true)
	s := startServer(t, cfg, sh, nil)
	cl := dial(t, s, codec.FramingRDSN)
	next := testConfig(t, func(text string) string {
		text = strings.Replace(text, "  max_inflight_bytes = 64MiB\n", "  max_inflight_bytes = 32MiB\n", 1)
		text = strings.Replace(text, "[table.open]\n  app_id = 6\n  follower_cluster = F\n  advertised_partition_count = 8\n",
			"[table.extra]\n  app_id = 7\n  follower_cluster = F\n", 1)
		return strings.Replace(text, "  master_cluster = A\n", "  master_cluster = A\n  failure_policy = skip\n  skip_after_attempts = 4\n", 1)
	})
	next.Bridge.StateDir = cfg.Bridge.StateDir
	changes, err := s.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(changes, "\n")
	for _, want := range []string{"table extra added", "table open removed", "table orders: failure policy slow (skip after 0) -> skip (skip after 4)", "MaxInflightBytes"} {
		if !strings.Contains(joined, want) {
			t.Errorf("changes %q lack %q", joined, want)
		}
	}
	if s.maxInflight.Load() != 32<<20 {
		t.Errorf("max_inflight_bytes %d after reload", s.maxInflight.Load())
	}
	ts := time.Now().UnixMicro()
	for i, c := range []struct {
		app     int32
		rpcErr  string
		shipped int
	}{{7, codec.ErrorOK, 1}, {6, codec.ErrorObjectNotFound, 0}, {5, codec.ErrorOK, 1}} {
		before := len(sh.snapshot())
		cl.send(cl.request(uint64(i), codec.RPCDuplicate, c.app, 0, dupBody(0, putEntry("k", "s", "v", ts+int64(i), 1))))
		f := cl.recv()
		if string(f.ErrorName) != c.rpcErr || len(sh.snapshot())-before != c.shipped {
			t.Errorf("app %d after reload: %s, %d parts shipped; want %s, %d", c.app, f.ErrorName, len(sh.snapshot())-before, c.rpcErr, c.shipped)
		}
	}
	samples, _ := scrape(t, s)
	if samples[`dup_requests{table="extra"}`] != 1 {
		t.Errorf("metrics after reload: dup_requests of the added table = %v, want 1", samples[`dup_requests{table="extra"}`])
	}
	for k := range samples {
		if strings.Contains(k, `table="open"`) {
			t.Errorf("removed table still exported: %s", k)
		}
	}
	if got := s.tabs().byName["orders"].fail.Load(); got.policy != config.PolicySkip || got.attempts != 4 {
		t.Errorf("orders fail mode %+v after reload", got)
	}

	// Restart-only changes: refused whole, nothing applied.
	bad := testConfig(t, func(text string) string {
		text = strings.Replace(text, "  advertised_host = bridge.test\n", "  advertised_host = other.test\n", 1)
		text = strings.Replace(text, "  max_inflight_bytes = 64MiB\n", "  max_inflight_bytes = 16MiB\n", 1)
		return strings.Replace(text, "[table.orders]\n  app_id = 5\n", "[table.orders]\n  app_id = 9\n", 1)
	})
	bad.Bridge.StateDir = cfg.Bridge.StateDir
	if _, err := s.Reload(bad); !IsReloadRefused(err) || !strings.Contains(err.Error(), "AdvertisedHost") || !strings.Contains(err.Error(), "[table.orders]") {
		t.Errorf("restart-only reload: %v", err)
	}
	if s.maxInflight.Load() != 32<<20 || s.tabs().byName["open"] != nil || s.tabs().byAppID[9] != nil {
		t.Error("a refused reload applied something")
	}
}
