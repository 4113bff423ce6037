package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dupbridge/dupbridge/internal/dashboard"
	"github.com/dupbridge/dupbridge/internal/promtext"
	"github.com/dupbridge/dupbridge/internal/testdeps"
	"github.com/dupbridge/dupbridge/internal/testfix"
	"github.com/dupbridge/dupbridge/localcluster"
	"github.com/dupbridge/dupbridge/replay"
	"github.com/dupbridge/dupbridge/walwriter"
)

// TestPrometheusScrapesReplay: a real Prometheus scrapes the bridge every
// second while two generations of master logs are replayed through it, and
// its query API gives exactly the numbers the traffic implies:
//
//   - increase() and rate() of the received, lagging, shipped and failed
//     counters equal the replay's entries and requests and the injected
//     follower failures (every counter is 0 at the first scrape, before
//     any traffic, so Prometheus's extrapolation adds nothing when the
//     query is evaluated at the last sample's timestamp);
//   - histogram_quantile over dup_time_lag_ms gives the quantiles of the
//     known lags: the first replay's entries are about 2 minutes old, in
//     the (60 s, 300 s] bucket, the second's about 40 minutes old, in
//     (1800 s, 3600 s], so the q-quantile is the bucket's linear
//     interpolation at rank q·N (Prometheus's histogram_quantile);
//   - beside the direct bridge it scrapes a WAN link (an edge and a sink,
//     job "dupbridge-wan") while a third replay goes through the edge: the
//     edge receives the replay's entries, spools one record per part, the
//     sink receives and the edge's spool sees acknowledged exactly those
//     records, and the sink's router ships every entry the edge did not
//     supersede;
//   - every panel query of deploy/grafana/dupbridge.json comes back with
//     data for one of the two jobs, and every rule of
//     deploy/prometheus/alerts.yml evaluates cleanly, with exactly the
//     alerts the traffic implies pending;
//   - every metric the bridge, the edge and the sink export is in
//     docs/operations.md.
func TestPrometheusScrapesReplay(t *testing.T) {
	root, err := testfix.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	env := start(t, localcluster.Options{Table: "demo", FollowerPartitions: 16, HTTP: true,
		LaggingWriteThreshold: 10 * time.Minute})
	edgeHTTP, sinkHTTP := freeAddr(t), freeAddr(t)
	wan := startWAN(t, localcluster.WANOptions{Options: localcluster.Options{FollowerPartitions: 16},
		Link: localcluster.LinkOptions{EdgeHTTP: edgeHTTP, SinkExtra: "http_listen = " + sinkHTTP}})
	tStart := float64(time.Now().UnixMilli()) / 1e3
	prom := startPrometheus(t, map[string][]string{"dupbridge": {env.HTTPAddr}, "dupbridge-wan": {edgeHTTP, sinkHTTP}},
		filepath.Join(root, "deploy", "prometheus", "alerts.yml"))

	const sel = `{job="dupbridge",table="demo"}`
	// The first scrapes, before any traffic: the table is open and every
	// counter is at 0.
	prom.waitFor(t, "the first scrape", `dupbridge_router_partitions`+sel, 30*time.Second, oneValue(16))
	prom.waitFor(t, "the first scrape", `dup_requests`+sel, 5*time.Second, oneValue(0))
	prom.waitFor(t, "the edge's first scrape", `dupbridge_spool_acked_records_total{job="dupbridge-wan"}`, 10*time.Second, oneValue(0))
	prom.waitFor(t, "the sink's first scrape", `dupbridge_relay_sink_records_total{job="dupbridge-wan"}`, 10*time.Second, oneValue(0))

	// The follower answers the first few duplicate RPCs "busy": the bridge
	// retries them; the masters see nothing of it.
	const busy = 5
	if err := env.Sim.InjectDuplicateError(11, "simulated busy", busy); err != nil {
		t.Fatal(err)
	}
	mutations := 3000
	if testing.Short() {
		mutations = 800
	}
	gen := func(name string, age time.Duration) replay.Summary {
		paths, _ := generate(t, walwriter.GenOptions{Dir: filepath.Join(t.TempDir(), name), AppID: 2, Partitions: 8,
			Mutations: mutations, Seed: uint64(len(name)), FinalEmpty: true, HashKeys: 500, SortKeys: 4,
			StartTimestamp: time.Now().Add(-age).UnixMicro()})
		// Rate-limited, so that Prometheus scrapes it mid-way.
		return replayAll(t, env, paths, replay.Options{Rate: float64(mutations)})
	}
	recent, old := gen("recent", 2*time.Minute), gen("old", 40*time.Minute)
	if recent.Retries+old.Retries != 0 {
		t.Fatalf("the master resent requests (%d, %d): the counts below assume it did not", recent.Retries, old.Retries)
	}
	entries := float64(recent.Entries + old.Entries)
	requests := float64(recent.Batches + old.Batches)
	t.Logf("replayed %d + %d entries in %d + %d requests", recent.Entries, old.Entries, recent.Batches, old.Batches)

	prom.waitFor(t, "a scrape after the replays", `dup_requests`+sel, 10*time.Second, oneValue(entries))
	at := prom.scalar(t, `timestamp(dup_requests`+sel+`)`, 0)
	win := int(at-tStart) + 5 // from before the first scrape to the last
	st, fs := env.Bridge.Stats(), env.Followers.Stats()["demo"]
	var rpcs uint64
	for _, p := range fs.Partitions {
		rpcs += p.RPCs
	}

	// The same counts through the query API, the histogram over the known
	// lags, and the bridge's own statistics for what no replay number
	// implies (entries re-routed, superseded, RPCs to the follower).
	inc := func(metric string) string { return fmt.Sprintf(`sum(increase(%s%s[%ds]))`, metric, sel, win) }
	quantile := func(q float64) string {
		return fmt.Sprintf(`histogram_quantile(%g, sum by (le) (increase(dup_time_lag_ms_bucket%s[%ds])))`, q, sel, win)
	}
	nA, nB := float64(recent.Entries), float64(old.Entries)
	wantQ := func(q float64) float64 {
		rank := q * (nA + nB)
		if rank <= nA {
			return 60000 + (300000-60000)*rank/nA
		}
		return 1800000 + (3600000-1800000)*(rank-nA)/nB
	}
	for _, c := range []struct {
		what, expr string
		want       float64
	}{
		{"entries received", inc("dup_requests"), entries},
		{"entries received per second × window", fmt.Sprintf(`sum(rate(dup_requests%s[%ds])) * %d`, sel, win, win), entries},
		{"lagging writes (the 40-minute-old ones)", inc("dup_lagging_writes"), nB},
		{"lag observations", inc("dup_time_lag_ms_count"), entries},
		{"duplicate RPCs from the master", inc("dupbridge_duplicate_rpcs_total"), requests},
		{"requests acknowledged", fmt.Sprintf(`sum(increase(dupbridge_acked_requests_total{job="dupbridge"}[%ds]))`, win), requests},
		{"failed RPCs to the follower", inc("dup_shipped_failed_requests"), busy},
		{"failed attempts named rocksdb:Busy", `sum(dupbridge_router_errors_total{job="dupbridge",table="demo",error="rocksdb:Busy"})`, busy},
		{"RPCs acknowledged by the follower", inc("dup_shipped_successful_requests"), float64(rpcs)},
		{"entries shipped to the follower", inc("dupbridge_router_shipped_entries_total"), float64(st.DupEntries - st.DupSuperseded)},
		{"entries superseded", inc("dupbridge_superseded_entries_total"), float64(st.DupSuperseded)},
		{"entries re-routed", inc("dupbridge_moved_entries_total"), float64(st.DupMoved)},
		{"lag p25", quantile(0.25), wantQ(0.25)},
		{"lag p50", quantile(0.5), wantQ(0.5)},
		{"lag p99", quantile(0.99), wantQ(0.99)},
	} {
		if got := prom.scalar(t, c.expr, at); !closeTo(got, c.want) {
			t.Errorf("%s: %s = %v, want %v", c.what, c.expr, got, c.want)
		}
	}
	// The buckets hold the lags the logs' ages imply.
	buckets, err := prom.query(fmt.Sprintf(`sum by (le) (increase(dup_time_lag_ms_bucket%s[%ds]))`, sel, win), at)
	if err != nil {
		t.Fatal(err)
	}
	byLe := map[float64]float64{}
	for _, b := range buckets {
		le, err := strconv.ParseFloat(b.Labels["le"], 64)
		if err != nil {
			t.Fatalf("bucket label %q: %v", b.Labels["le"], err)
		}
		byLe[le] = b.Value
	}
	for _, c := range []struct{ le, want float64 }{{60000, 0}, {300000, nA}, {1800000, nA}, {3600000, nA + nB}, {math.Inf(1), nA + nB}} {
		if got, ok := byLe[c.le]; !ok || !closeTo(got, c.want) {
			t.Errorf("lag ≤ %v ms: %v entries, want %v (buckets %v)", c.le, got, c.want, byLe)
		}
	}
	if st.DupMoved == 0 || st.DupEntries-st.DupSuperseded == 0 {
		t.Errorf("8 master partitions into 16 follower partitions moved %d entries and shipped %d: the checks above prove little",
			st.DupMoved, st.DupEntries-st.DupSuperseded)
	}

	// Scraped during the replay: a sample strictly between 0 and the end.
	vals, err := prom.rangeValues(`dup_requests`+sel, tStart, at, 1)
	if err != nil {
		t.Fatal(err)
	}
	mid := 0
	for _, v := range vals {
		if v > 0 && v < entries {
			mid++
		}
	}
	if mid == 0 {
		t.Errorf("no scrape saw the replay in progress: %v", vals)
	}

	atWAN := checkWAN(t, prom, wan, mutations)
	checkDashboard(t, prom, filepath.Join(root, "deploy", "grafana", "dupbridge.json"), atWAN, "dupbridge", "dupbridge-wan")
	checkAlerts(t, prom, map[string]bool{"DupbridgeLagP99High": true, "DupbridgeShippingFailing": true})
	doc := filepath.Join(root, "docs", "operations.md")
	checkMetricsDocumented(t, "http://"+env.HTTPAddr+"/metrics", doc, 40)
	checkMetricsDocumented(t, "http://"+edgeHTTP+"/metrics", doc, 40)
	checkMetricsDocumented(t, "http://"+sinkHTTP+"/metrics", doc, 10)
}

// checkWAN replays fresh master logs through the WAN link's edge and checks
// the edge's and the sink's counters, as Prometheus scraped them, against
// the traffic; it returns the time of the last scrape after the replay.
func checkWAN(t *testing.T, prom *promServer, w *localcluster.WAN, mutations int) float64 {
	t.Helper()
	paths, _ := generate(t, walwriter.GenOptions{Dir: filepath.Join(t.TempDir(), "wan"), AppID: 2, Partitions: 8,
		Mutations: mutations, Seed: 5, FinalEmpty: true, HashKeys: 500, SortKeys: 4, StartTimestamp: time.Now().UnixMicro()})
	sum := replayAll(t, w.Env, paths, replay.Options{Rate: float64(mutations)})
	drained(t, w)
	if sum.Retries != 0 {
		t.Fatalf("the master resent requests (%d) through the edge: the counts below assume it did not", sum.Retries)
	}
	records := float64(w.Edge.Edge.Stats()[w.Link.Table].Acked)
	const wsel = `{job="dupbridge-wan"}`
	prom.waitFor(t, "a scrape of the edge after the WAN replay", `dupbridge_spool_acked_records_total`+wsel, 10*time.Second, oneValue(records))
	prom.waitFor(t, "a scrape of the sink after the WAN replay", `dupbridge_relay_sink_records_total`+wsel, 10*time.Second, oneValue(records))
	at := prom.scalar(t, `max(timestamp(dupbridge_relay_sink_records_total`+wsel+`) or timestamp(dupbridge_spool_acked_records_total`+wsel+`))`, 0)
	// The edge and the sink started with this test: their counters are
	// their counts (increase() would extrapolate the target scraped
	// earlier to the later one's last scrape).
	total := func(metric string) string { return fmt.Sprintf(`sum(%s{job="dupbridge-wan"})`, metric) }
	t.Logf("replayed %d entries in %d requests through the edge: %v spool records", sum.Entries, sum.Batches, records)
	for _, c := range []struct {
		what, expr string
		want       float64
	}{
		{"entries the edge received", total("dup_requests"), float64(sum.Entries)},
		{"requests the edge acknowledged", total("dupbridge_acked_requests_total"), float64(sum.Batches)},
		{"parts the edge spooled (one record each)", total("dupbridge_parts_total"), records},
		{"records the sink received", total("dupbridge_relay_sink_records_total"), records},
		{"records the sink acknowledged to the edge", total("dupbridge_spool_acked_records_total"), records},
		{"shipments sent = shipments received", total("dupbridge_relay_shipments_total") + " - " + total("dupbridge_relay_sink_shipments_total"), 0},
		{"failed sink connections", total("dupbridge_relay_connection_failures_total"), 0},
		{"entries the sink shipped, with those the edge superseded", total("dupbridge_router_shipped_entries_total") + " + " + total("dupbridge_superseded_entries_total"), float64(sum.Entries)},
		{"the spool's window after the drain", `sum(dupbridge_spool_unacked_records` + wsel + `)`, 0},
		{"the spool's fill after the drain", `sum(dupbridge_spool_bytes` + wsel + `)`, 0},
		// DupbridgeSpoolAbove80Percent's ratio matches the edge's real series.
		{"spool fill ratios (one per edge table)", `count(dupbridge_spool_bytes` + wsel + ` / dupbridge_spool_capacity_bytes` + wsel + `)`, 1},
	} {
		if got := prom.scalar(t, c.expr, at); !closeTo(got, c.want) {
			t.Errorf("WAN: %s: %s = %v, want %v", c.what, c.expr, got, c.want)
		}
	}
	if records == 0 || prom.scalar(t, total("dupbridge_relay_wire_bytes_total"), at) == 0 {
		t.Errorf("nothing crossed the WAN link: the checks above prove little")
	}
	return at
}

// checkDashboard: every panel query, with the dashboard's variables set to
// the scraped table and one of the scrape jobs (as a user picks the job of
// the bridges, edges or sinks), returns data that is a number somewhere.
func checkDashboard(t *testing.T, prom *promServer, path string, at float64, jobs ...string) {
	t.Helper()
	qs, err := dashboard.Queries(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		var tried []string
		number := false
		for _, job := range jobs {
			vars := map[string]string{"job": job, "instance": ".*", "table": "demo", "__rate_interval": "1m", "datasource": "prometheus"}
			expr, err := dashboard.Expand(q.Expr, vars)
			if err != nil {
				t.Fatalf("panel %q %s: %v", q.Panel, q.RefID, err)
			}
			s, err := prom.query(expr, at)
			if err != nil {
				t.Errorf("panel %q %s: %v", q.Panel, q.RefID, err)
				break
			}
			for _, v := range s {
				number = number || !math.IsNaN(v.Value)
			}
			tried = append(tried, fmt.Sprintf("%s gave %v", expr, s))
		}
		if !number {
			t.Errorf("panel %q %s is empty: %s", q.Panel, q.RefID, strings.Join(tried, "; "))
		}
	}
}

// checkAlerts: every rule evaluates without error, and the alerts pending
// or firing are exactly want (by name).
func checkAlerts(t *testing.T, prom *promServer, want map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var rules struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
					Alerts    []struct {
						Labels map[string]string `json:"labels"`
						State  string            `json:"state"`
					} `json:"alerts"`
				} `json:"rules"`
			} `json:"groups"`
		}
		if err := prom.api("rules", nil, &rules); err != nil {
			t.Fatal(err)
		}
		var problems []string
		got, n := map[string]bool{}, 0
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				n++
				if r.Health != "ok" {
					problems = append(problems, fmt.Sprintf("rule %s: health %q %s", r.Name, r.Health, r.LastError))
				}
				for _, a := range r.Alerts {
					got[r.Name] = true
					if a.Labels["table"] != "" && a.Labels["table"] != "demo" {
						problems = append(problems, fmt.Sprintf("alert %s for table %q", r.Name, a.Labels["table"]))
					}
				}
			}
		}
		for name := range want {
			if !got[name] {
				problems = append(problems, "alert "+name+" not pending")
			}
		}
		for name := range got {
			if !want[name] {
				problems = append(problems, "unexpected alert "+name)
			}
		}
		if n == 0 {
			problems = append(problems, "no rules loaded")
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert rules: %s", strings.Join(problems, "; "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkMetricsDocumented: every metric family a node exports (at least
// min of them), beside the Go runtime's and the process's, is named in the
// operations guide.
func checkMetricsDocumented(t *testing.T, metricsURL, docPath string, min int) {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	_, help, err := promtext.Parse(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(help) < min {
		t.Fatalf("only %d metric families scraped from %s", len(help), metricsURL)
	}
	for n := range help {
		if strings.HasPrefix(n, "go_") || strings.HasPrefix(n, "process_") {
			continue
		}
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("metric %s is not in %s", n, docPath)
		}
	}
}

// promServer is a real Prometheus (Debian's package, installed by
// scripts/deps.sh) started by a test on a loopback port with its own
// configuration and storage in a temp dir, scraping its targets every
// second. Never the system service.
type promServer struct {
	base string // http://127.0.0.1:port
	log  string // its log file
}

// startPrometheus starts Prometheus scraping targets (host:port by job
// name, path /metrics) with the rule files given, waits until it is ready
// and stops it when the test ends.
func startPrometheus(t *testing.T, targets map[string][]string, ruleFiles ...string) *promServer {
	t.Helper()
	bin := testdeps.Tool(t, "prometheus", "prometheus")
	dir := t.TempDir()
	rules, _ := json.Marshal(ruleFiles) // a YAML flow sequence
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: %s
scrape_configs:
`, rules)
	for _, job := range slices.Sorted(maps.Keys(targets)) {
		addrs, _ := json.Marshal(targets[job])
		cfg += fmt.Sprintf("  - job_name: %q\n    static_configs:\n      - targets: %s\n", job, addrs)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &promServer{log: filepath.Join(dir, "prometheus.log")}
	// The port is picked free, then handed over: another process may take
	// it in between, so a start that does not come up is retried.
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		logf, err := os.Create(p.log)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr, "--log.level=warn")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("start prometheus: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
		p.base = "http://" + addr
		if p.ready(exited, 30*time.Second) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return p
		}
		_ = cmd.Process.Kill()
		<-exited
		if attempt == 3 {
			log, _ := os.ReadFile(p.log)
			t.Fatalf("prometheus did not become ready on %s:\n%s", addr, log)
		}
	}
}

// ready waits for /-/ready, or for the process to exit.
func (p *promServer) ready(exited <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if resp, err := http.Get(p.base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// sample is one element of an instant vector.
type sample struct {
	Labels map[string]string
	Value  float64
}

// api GETs /api/v1/<path> and decodes its data member into out.
func (p *promServer) api(path string, params url.Values, out any) error {
	resp, err := http.Get(p.base + "/api/v1/" + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("prometheus %s: %w: %s", path, err, body)
	}
	if env.Status != "success" {
		return fmt.Errorf("prometheus %s %v: %s", path, params, env.Error)
	}
	return json.Unmarshal(env.Data, out)
}

// query evaluates expr (an instant vector) at time at (Unix seconds; 0:
// now).
func (p *promServer) query(expr string, at float64) ([]sample, error) {
	params := url.Values{"query": {expr}}
	if at != 0 {
		params.Set("time", strconv.FormatFloat(at, 'f', 3, 64))
	}
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.api("query", params, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %s, want vector", expr, data.ResultType)
	}
	out := make([]sample, 0, len(data.Result))
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", expr, r.Value[1], err)
		}
		out = append(out, sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// scalar evaluates expr at at and returns its one value.
func (p *promServer) scalar(t *testing.T, expr string, at float64) float64 {
	t.Helper()
	s, err := p.query(expr, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 {
		t.Fatalf("%s: %d samples %v, want one", expr, len(s), s)
	}
	return s[0].Value
}

// waitFor polls expr until ok accepts its current result.
func (p *promServer) waitFor(t *testing.T, what, expr string, timeout time.Duration, ok func([]sample) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []sample
	var err error
	for time.Now().Before(deadline) {
		if last, err = p.query(expr, 0); err == nil && ok(last) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	log, _ := os.ReadFile(p.log)
	t.Fatalf("waiting %s for %s: %s gave %v (%v)\nprometheus log:\n%s", timeout, what, expr, last, err, log)
}

// oneValue accepts a single sample equal to want.
func oneValue(want float64) func([]sample) bool {
	return func(s []sample) bool { return len(s) == 1 && s[0].Value == want }
}

// rangeValues returns the values of expr (one series) between start and end
// at step seconds.
func (p *promServer) rangeValues(expr string, start, end float64, step int) ([]float64, error) {
	params := url.Values{"query": {expr}, "start": {strconv.FormatFloat(start, 'f', 3, 64)},
		"end": {strconv.FormatFloat(end, 'f', 3, 64)}, "step": {strconv.Itoa(step)}}
	var data struct {
		Result []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	if err := p.api("query_range", params, &data); err != nil {
		return nil, err
	}
	if len(data.Result) != 1 {
		return nil, fmt.Errorf("query_range %s: %d series, want one", expr, len(data.Result))
	}
	var out []float64
	for _, v := range data.Result[0].Values {
		s, _ := v[1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func closeTo(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}
