package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dupbridge/dupbridge/config"
	"github.com/dupbridge/dupbridge/internal/promtext"
	"github.com/dupbridge/dupbridge/internal/tcpproxy"
	"github.com/dupbridge/dupbridge/keyorder"
	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/server"
	"github.com/dupbridge/dupbridge/spool"
)

const testToken = "relay-test-token-0123456789"

// fakeFollower stands for the sink's routers: it applies parts (records
// them) and acknowledges, unless holding.
type fakeFollower struct {
	mu      sync.Mutex
	applied []*server.Part
	hold    bool
	held    []func(server.PartResult)
}

func (f *fakeFollower) PartitionCount(string) int { return 8 }

func (f *fakeFollower) Ship(p *server.Part, done func(server.PartResult)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hold {
		f.held = append(f.held, done)
		return
	}
	f.applied = append(f.applied, p)
	go done(server.PartResult{Status: server.PartAcked})
}

func (f *fakeFollower) parts() []*server.Part {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*server.Part(nil), f.applied...)
}

// timestamps returns the first timestamp of every applied part.
func (f *fakeFollower) timestamps() map[int64]int {
	m := map[int64]int{}
	for _, p := range f.parts() {
		m[p.FirstTimestamp]++
	}
	return m
}

func parseCfg(t *testing.T, text string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(text), "test.ini")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sinkCfg(t *testing.T, token, extra string) *config.Config {
	return parseCfg(t, fmt.Sprintf(`[pegasus.clusters]
f = 127.0.0.1:1
[duplication-group]
m = 1
[dupbridge]
role = sink
relay_listen = 127.0.0.1:0
relay_token = %s
%s
[table.t]
follower_cluster = f
`, token, extra))
}

func edgeCfg(t *testing.T, sink, dir, token, ack, extra string) *config.Config {
	return parseCfg(t, fmt.Sprintf(`[duplication-group]
m = 1
[dupbridge]
role = edge
listen = 127.0.0.1:1
relay_sink = %s
relay_token = %s
state_dir = %s
relay_linger = 1ms
%s
[table.t]
ack = %s
`, sink, token, dir, extra, ack))
}

type logs struct{ *observer.ObservedLogs }

func observed() (*zap.Logger, logs) {
	core, o := observer.New(zapcore.InfoLevel)
	return zap.New(core), logs{o}
}

// has reports whether a log line contains every part of want (message and
// field values, as text).
func (l logs) has(want ...string) bool {
	for _, e := range l.All() {
		line := e.Message
		for _, f := range e.Context {
			line += fmt.Sprintf(" %s=%v%s", f.Key, f.String, errString(f))
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(line, w) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func errString(f zapcore.Field) string {
	if err, ok := f.Interface.(error); ok {
		return err.Error()
	}
	return ""
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runSink starts a sink; stop ends it and waits.
func runSink(t *testing.T, cfg *config.Config, f server.Shipper, log *zap.Logger, listen string) (addr string, stop func()) {
	t.Helper()
	s, err := NewSink(cfg, SinkOptions{Shipper: f, Logger: log, Listen: listen})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return s.Addr().String(), stop
}

// runEdge opens an edge and ships; stop ends the shippers and closes the
// spool.
func runEdge(t *testing.T, cfg *config.Config, log *zap.Logger) (e *Edge, stop func()) {
	t.Helper()
	e, err := NewEdge(cfg, EdgeOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done; _ = e.Close() }) }
	t.Cleanup(stop)
	return e, stop
}

// proxiedSink runs a sink over a fake follower behind a proxy that can
// cut the link.
func proxiedSink(t *testing.T) (*fakeFollower, *tcpproxy.Proxy) {
	t.Helper()
	f := &fakeFollower{}
	sinkAddr, _ := runSink(t, sinkCfg(t, testToken, ""), f, nil, "")
	px, err := tcpproxy.New(sinkAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	return f, px
}

// shipParts ships parts from..to of table t and returns a channel that
// gets each result.
func shipParts(e *Edge, from, to int) chan server.PartResult {
	results := make(chan server.PartResult, to-from)
	for i := from; i < to; i++ {
		p := samplePart(i)
		p.Table = "t"
		e.Ship(p, func(r server.PartResult) { results <- r })
	}
	return results
}

func waitResults(t *testing.T, results chan server.PartResult, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case r := <-results:
			if r.Status != server.PartAcked {
				t.Fatalf("part %d: %v %v", i, r.Status, r.Err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of %d parts acknowledged", i, n)
		}
	}
}

// Both acknowledgement policies deliver every part once, in order, and
// truncate the spool.
func TestLinkDelivers(t *testing.T) {
	for _, ack := range []string{"spool", "follower"} {
		t.Run("ack="+ack, func(t *testing.T) {
			f := &fakeFollower{}
			addr, _ := runSink(t, sinkCfg(t, testToken, ""), f, nil, "")
			e, _ := runEdge(t, edgeCfg(t, addr, t.TempDir(), testToken, ack, "relay_batch_bytes = 4KiB"), nil)
			eventually(t, "layout learned", func() bool { return e.PartitionCount("t") == 8 })
			waitResults(t, shipParts(e, 0, 3000), 3000)
			eventually(t, "all applied", func() bool { return len(f.parts()) == 3000 })
			for i, p := range f.parts() {
				if p.FirstTimestamp != samplePart(i).FirstTimestamp {
					t.Fatalf("part %d applied out of order", i)
				}
			}
			eventually(t, "spool acknowledged", func() bool {
				st := e.Stats()["t"]
				return st.Acked == 3000 && st.SpoolBytes == 0
			})
		})
	}
}

// Refused handshakes are logged on both ends with the reason; the spool
// keeps every write, and they are delivered once the cause is fixed.
func TestRefusals(t *testing.T) {
	pki := newPKI(t)
	cases := []struct {
		name                string
		sinkExtra, edgeExtr string
		edgeToken           string
		sinkLog, edgeLog    []string
	}{
		{name: "wrong token", edgeToken: "another-token-0123456789",
			sinkLog: []string{"edge refused", "wrong relay_token"}, edgeLog: []string{"refused", "wrong relay_token"}},
		{name: "dictionary unknown at the sink", edgeExtr: "relay_zstd_dict = " + pki.dict,
			sinkLog: []string{"edge refused", "is not loaded at the sink"}, edgeLog: []string{"refused", "relay_zstd_dict"}},
		{name: "edge certificate from another CA", sinkExtra: pki.tls("sink", "ca"), edgeExtr: pki.tls("rogue", "ca"),
			sinkLog: []string{"TLS handshake failed"}, edgeLog: []string{"link to the sink down"}},
		{name: "sink certificate not trusted", sinkExtra: pki.tls("sink", "ca"), edgeExtr: pki.tls("edge", "rogueca"),
			sinkLog: []string{"TLS handshake failed"}, edgeLog: []string{"refused", "certificate signed by unknown authority"}},
		{name: "mutual TLS, edge without a certificate", sinkExtra: pki.tls("sink", "ca"), edgeExtr: "relay_tls_ca = " + pki.file("ca.pem"),
			sinkLog: []string{"TLS handshake failed"}, edgeLog: []string{"link to the sink down"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeFollower{}
			slog, sl := observed()
			addr, stopSink := runSink(t, sinkCfg(t, testToken, tc.sinkExtra), f, slog, "")
			token := tc.edgeToken
			if token == "" {
				token = testToken
			}
			dir := t.TempDir()
			elog, el := observed()
			e, stopEdge := runEdge(t, edgeCfg(t, addr, dir, token, "spool", tc.edgeExtr), elog)
			waitResults(t, shipParts(e, 0, 50), 50) // ack = spool: durable locally
			eventually(t, "sink log "+strings.Join(tc.sinkLog, ", "), func() bool { return sl.has(tc.sinkLog...) })
			eventually(t, "edge log "+strings.Join(tc.edgeLog, ", "), func() bool { return el.has(tc.edgeLog...) })
			if n := len(f.parts()); n != 0 {
				t.Fatalf("%d parts reached the follower through a refused link", n)
			}
			if st := e.Stats()["t"]; st.Durable != 50 || st.Acked != 0 {
				t.Fatalf("spool after refusals: %+v", st)
			}
			stopEdge()
			stopSink()
			// Fixed: a plain sink and the right token; nothing was lost.
			addr2, _ := runSink(t, sinkCfg(t, testToken, ""), f, nil, "")
			runEdge(t, edgeCfg(t, addr2, dir, testToken, "spool", ""), nil)
			eventually(t, "the 50 spooled parts delivered", func() bool { return len(f.parts()) == 50 })
		})
	}
}

// TLS without client certificates (the sink has no CA) and mutual TLS
// both deliver.
func TestTLSModes(t *testing.T) {
	pki := newPKI(t)
	for _, tc := range []struct{ name, sink, edge string }{
		{"server certificate only", "relay_tls_cert = " + pki.file("sink.pem") + "\nrelay_tls_key = " + pki.file("sink.key"), "relay_tls_ca = " + pki.file("ca.pem")},
		{"mutual", pki.tls("sink", "ca"), pki.tls("edge", "ca")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeFollower{}
			addr, _ := runSink(t, sinkCfg(t, testToken, tc.sink), f, nil, "")
			e, _ := runEdge(t, edgeCfg(t, addr, t.TempDir(), testToken, "follower", tc.edge), nil)
			eventually(t, "layout learned over TLS", func() bool { return e.PartitionCount("t") == 8 })
			waitResults(t, shipParts(e, 0, 100), 100)
			if n := len(f.parts()); n != 100 {
				t.Fatalf("%d parts applied over TLS, want 100", n)
			}
		})
	}
}

// A peer speaking another protocol version is refused with both versions
// named.
func TestWrongVersion(t *testing.T) {
	slog, sl := observed()
	addr, _ := runSink(t, sinkCfg(t, testToken, ""), &fakeFollower{}, slog, "")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := Hello{Version: Version + 1, Token: testToken, Table: "t"}
	if _, err := c.Write(h.Append(nil)); err != nil {
		t.Fatal(err)
	}
	typ, body, _, err := ReadFrame(c, nil, 4096)
	if err != nil || typ != TypeRefuse {
		t.Fatalf("answer: type %d err %v", typ, err)
	}
	reason, _ := DecodeRefuse(body)
	want := fmt.Sprintf("protocol version %d not supported: this sink speaks version %d", Version+1, Version)
	if reason != want {
		t.Fatalf("reason %q, want %q", reason, want)
	}
	eventually(t, "sink log", func() bool { return sl.has("edge refused", want) })
}

// The sink dies after the follower applied part of what it was sent and
// before it acknowledged: the edge resends from its last acknowledgement,
// flagged, and the new sink marks the resent PUTs verify_timetag so that the
// follower keeps the newer values (docs/relay.md §2.7).
func TestSinkRestartWithHalfAppliedShipment(t *testing.T) {
	f := &fakeFollower{}
	cfgS := sinkCfg(t, testToken, "")
	addr, stopSink := runSink(t, cfgS, f, nil, "")
	e, _ := runEdge(t, edgeCfg(t, addr, t.TempDir(), testToken, "spool", "relay_batch_bytes = 64KiB"), nil)
	eventually(t, "layout learned", func() bool { return e.PartitionCount("t") == 8 })
	waitResults(t, shipParts(e, 0, 100), 100)
	eventually(t, "first 100 applied and acknowledged", func() bool { return e.Stats()["t"].Acked == 100 })

	f.mu.Lock()
	f.hold = true // the follower applies nothing more; acks never come
	f.mu.Unlock()
	waitResults(t, shipParts(e, 100, 200), 100)
	eventually(t, "the sink dispatched the second hundred", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.held) == 100
	})
	// Half of them reach the follower's storage before the sink dies.
	f.mu.Lock()
	for i := 100; i < 150; i++ {
		p := samplePart(i)
		f.applied = append(f.applied, p)
	}
	f.hold, f.held = false, nil
	f.mu.Unlock()
	stopSink()
	_, _ = runSink(t, cfgS, f, nil, addr)
	eventually(t, "everything acknowledged after the resend", func() bool { return e.Stats()["t"].Acked == 200 })

	seen := f.timestamps()
	for i := 0; i < 200; i++ {
		if seen[samplePart(i).FirstTimestamp] == 0 {
			t.Fatalf("part %d never applied", i)
		}
	}
	marked := 0
	for _, p := range f.parts()[150:] {
		it, err := mutation.NewDupIter(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		var de mutation.DupEntry
		for it.Next(&de) {
			if !de.VerifyTimetag {
				t.Fatalf("a resent PUT (ts %d) without verify_timetag", de.Timestamp)
			}
			marked++
		}
	}
	if marked < 100 {
		t.Fatalf("%d resent entries marked, want the 100 unacknowledged ones", marked)
	}
}

// The link is cut for a while: the edge keeps spooling, logs the outage,
// and delivers everything in order after it is restored.
func TestLinkCut(t *testing.T) {
	f, px := proxiedSink(t)
	elog, el := observed()
	e, _ := runEdge(t, edgeCfg(t, px.Addr(), t.TempDir(), testToken, "spool", "relay_batch_bytes = 8KiB"), elog)
	eventually(t, "layout learned", func() bool { return e.PartitionCount("t") == 8 })
	waitResults(t, shipParts(e, 0, 500), 500)
	px.Cut()
	waitResults(t, shipParts(e, 500, 1500), 1000) // acknowledged by the spool while the link is down
	eventually(t, "edge logs the outage", func() bool { return el.has("link to the sink down") })
	time.Sleep(500 * time.Millisecond)
	px.Restore()
	eventually(t, "everything delivered after the link is back", func() bool { return e.Stats()["t"].Acked == 1500 })
	seen := f.timestamps()
	for i := 0; i < 1500; i++ {
		if seen[samplePart(i).FirstTimestamp] != 1 {
			t.Fatalf("part %d applied %d times", i, seen[samplePart(i).FirstTimestamp])
		}
	}
	last := int64(0)
	for _, p := range f.parts() {
		if p.FirstTimestamp < last {
			t.Fatal("parts applied out of order across the cut")
		}
		last = p.FirstTimestamp
	}
}

// A full spool holds appends (the master is not answered) until the sink
// acknowledges; nothing is refused or dropped.
func TestSpoolFullBackPressure(t *testing.T) {
	dir := t.TempDir()
	cfg := edgeCfg(t, "127.0.0.1:1", dir, testToken, "spool", "spool_bytes = 1MiB")
	e, stopEdge := runEdge(t, cfg, nil)
	results := shipParts(e, 0, 6000) // about 1.7 MiB of parts
	eventually(t, "the spool is full and holds appends", func() bool { return e.Stats()["t"].Waiting > 0 })
	st := e.Stats()["t"]
	if st.SpoolBytes > 1<<20 {
		t.Fatalf("spool bytes %d above its capacity", st.SpoolBytes)
	}
	acked := len(results)
	if acked >= 6000 {
		t.Fatalf("every part acknowledged although the spool is full")
	}
	// The sink comes up: room frees, held appends are written and answered.
	f := &fakeFollower{}
	stopEdge()
	addr, _ := runSink(t, sinkCfg(t, testToken, ""), f, nil, "")
	_ = addr
	e2, _ := runEdge(t, edgeCfg(t, addr, dir, testToken, "spool", "spool_bytes = 1MiB"), nil)
	results2 := shipParts(e2, 6000, 9000)
	waitResults(t, results2, 3000)
	eventually(t, "all delivered", func() bool { return e2.Stats()["t"].Acked == e2.Stats()["t"].Durable })
	if got := len(f.parts()); got < 3000+acked {
		t.Fatalf("%d parts applied, want at least %d", got, 3000+acked)
	}
}

// A damaged spool record in the middle stops the edge with an error naming
// the file and offset.
func TestCorruptSpoolStopsEdge(t *testing.T) {
	dir := t.TempDir()
	cfg := edgeCfg(t, "127.0.0.1:1", dir, testToken, "spool", "")
	e, stop := runEdge(t, cfg, nil)
	waitResults(t, shipParts(e, 0, 20), 20)
	stop()
	segs, _ := filepath.Glob(filepath.Join(dir, "spool", "t", "*.seg"))
	data, _ := os.ReadFile(segs[0])
	data[100] ^= 0xff
	if err := os.WriteFile(segs[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewEdge(cfg, EdgeOptions{})
	if !errors.Is(err, spool.ErrCorrupt) || !strings.Contains(err.Error(), segs[0]+" offset 0") {
		t.Fatalf("NewEdge on a corrupt spool: %v", err)
	}
}

// The edge exports its spool's fill level under the names alert rules use,
// and its relay window.
func TestSpoolGauges(t *testing.T) {
	e, _ := runEdge(t, edgeCfg(t, "127.0.0.1:1", t.TempDir(), testToken, "spool", "spool_bytes = 2MiB"), nil)
	waitResults(t, shipParts(e, 0, 10), 10)
	got, err := promtext.Collect(e.Collectors()...)
	if err != nil {
		t.Fatal(err)
	}
	fill, capacity := got[`dupbridge_spool_bytes{table="t"}`], got[`dupbridge_spool_capacity_bytes{table="t"}`]
	if capacity != 2<<20 || fill != float64(e.Stats()["t"].SpoolBytes) || fill <= 0 {
		t.Fatalf("gauges %v, spool %+v", got, e.Stats()["t"])
	}
	// No sink: the 10 parts' records wait in the window, none acknowledged,
	// and the link's counters exist (at 0) before anything was sent.
	for series, want := range map[string]float64{`dupbridge_spool_unacked_records{table="t"}`: 10,
		`dupbridge_spool_acked_records_total{table="t"}`: 0, `dupbridge_relay_shipments_total{table="t"}`: 0,
		`dupbridge_relay_wire_bytes_total{table="t"}`: 0} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
}

// The per-key order memory survives an edge restart: the guard rebuilt from
// the spool drops an older write of a key spooled before the restart, even
// after the sink acknowledged it (docs/relay.md §1.6).
func TestOrderMemorySurvivesRestart(t *testing.T) {
	f := &fakeFollower{}
	addr, _ := runSink(t, sinkCfg(t, testToken, ""), f, nil, "")
	dir := t.TempDir()
	cfg := edgeCfg(t, addr, dir, testToken, "spool", "")
	e, stop := runEdge(t, cfg, nil)
	waitResults(t, shipParts(e, 0, 50), 50)
	eventually(t, "acknowledged by the sink", func() bool { return e.Stats()["t"].Acked == 50 })
	stop()

	e2, _ := runEdge(t, cfg, nil)
	g := e2.Guards()["t"]
	for _, tc := range []struct {
		name string
		ts   int64
		want keyorder.Verdict
	}{
		{"older write of a spooled key", -1, keyorder.Drop},
		{"the same write again", 0, keyorder.Keep},
		{"newer write", +1, keyorder.Keep},
	} {
		e := samplePartEntry(7)
		e.Timestamp += tc.ts
		if v, _, err := g.Filter(0, &e); err != nil || v != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.name, v, err, tc.want)
		}
	}
}

// An edge that never reached its sink takes writes when the table names an
// advertised partition count; without one, it has no layout to split by.
func TestEdgeLayoutBeforeTheSink(t *testing.T) {
	for _, tc := range []struct {
		advertised string
		want       int
	}{{"", 0}, {"advertised_partition_count = 16", 16}} {
		cfg := parseCfg(t, fmt.Sprintf("[duplication-group]\nm = 1\n[dupbridge]\nrole = edge\nlisten = 127.0.0.1:1\nrelay_sink = 127.0.0.1:1\nrelay_token = %s\nstate_dir = %s\n[table.t]\n%s\n",
			testToken, t.TempDir(), tc.advertised))
		e, _ := runEdge(t, cfg, nil)
		if got := e.PartitionCount("t"); got != tc.want {
			t.Errorf("%q: partition count %d, want %d", tc.advertised, got, tc.want)
		}
	}
}
