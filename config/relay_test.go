package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const edgeBase = `[duplication-group]
  A = 1
[dupbridge]
  role = edge
  listen = 127.0.0.1:34801
  relay_sink = sink.example.com:34701
  relay_token = 0123456789abcdef
  %s
[table.t]
  %s
`

const sinkBase = `[pegasus.clusters]
  F = 127.0.0.1:34601
[duplication-group]
  A = 1
[dupbridge]
  role = sink
  relay_listen = 127.0.0.1:34701
  relay_token = 0123456789abcdef
  %s
[table.t]
  follower_cluster = F
  %s
`

func TestRelayRoles(t *testing.T) {
	cases := []struct {
		name, text string
		problems   []string // substrings, one per expected problem
		check      func(t *testing.T, c *Config)
	}{
		{name: "edge defaults", text: sprintf(edgeBase, "", ""), check: func(t *testing.T, c *Config) {
			r := c.Bridge.Relay
			if c.Bridge.Role != RoleEdge || c.Tables[0].Ack != AckSpool || r.Sink != "sink.example.com:34701" ||
				r.ZstdLevel != 2 || r.BatchBytes != 1<<20 || r.Linger != 5*time.Millisecond || r.WindowShipments != 64 ||
				r.WindowBytes != 32<<20 || r.MaxShipment != 64<<20 || r.SpoolBytes != 1<<30 || r.TLS() {
				t.Errorf("edge: %+v ack %v", c.Bridge, c.Tables[0].Ack)
			}
		}},
		{name: "edge tuning and ack follower", text: sprintf(edgeBase,
			"relay_zstd_level = 4\n relay_batch_bytes = 256KiB\n relay_linger = 0s\n relay_window_shipments = 8\n relay_window_bytes = 4MiB\n spool_bytes = 2GiB\n relay_tls_cert = c\n relay_tls_key = k\n relay_tls_ca = ca",
			"ack = follower"), check: func(t *testing.T, c *Config) {
			r := c.Bridge.Relay
			if r.ZstdLevel != 4 || r.BatchBytes != 256<<10 || r.Linger != 0 || r.WindowShipments != 8 || r.WindowBytes != 4<<20 ||
				r.SpoolBytes != 2<<30 || !r.TLS() || c.Tables[0].Ack != AckFollower {
				t.Errorf("tuned edge: %+v", r)
			}
		}},
		{name: "sink without listen", text: sprintf(sinkBase, "", ""), check: func(t *testing.T, c *Config) {
			if c.Bridge.Role != RoleSink || c.Bridge.Relay.Listen != "127.0.0.1:34701" || c.Bridge.Listen != "" {
				t.Errorf("sink: %+v", c.Bridge)
			}
		}},
		{name: "edge mistakes", text: sprintf(edgeBase, "relay_listen = 127.0.0.1:1\n relay_zstd_level = 9\n relay_tls_cert = c", "ack = maybe"),
			problems: []string{"relay_listen: only a sink", "relay_zstd_level", "relay_tls_cert: set relay_tls_cert and relay_tls_key together", `ack: "maybe"`}},
		{name: "edge certificate without a CA", text: sprintf(edgeBase, "relay_tls_cert = c\n relay_tls_key = k", ""),
			problems: []string{"relay_tls_ca: required with relay_tls_cert at an edge"}},
		{name: "sink CA without a certificate", text: sprintf(sinkBase, "relay_tls_ca = ca", ""),
			problems: []string{"relay_tls_cert: required with relay_tls_ca at a sink"}},
		{name: "edge verifying the sink only", text: sprintf(edgeBase, "relay_tls_ca = ca", ""), check: func(t *testing.T, c *Config) {
			if !c.Bridge.Relay.TLS() || c.Bridge.Relay.TLSCert != "" {
				t.Errorf("edge with a CA only: %+v", c.Bridge.Relay)
			}
		}},
		{name: "sink mistakes", text: sprintf(sinkBase, "relay_sink = 127.0.0.1:1\n relay_max_shipment = 128KiB", "ack = spool"),
			problems: []string{"relay_sink: only an edge", "relay_max_shipment", "ack: only an edge"}},
		{name: "sink needs clusters and follower_cluster", text: strings.Replace(strings.Replace(sprintf(sinkBase, "", ""),
			"[pegasus.clusters]\n  F = 127.0.0.1:34601\n", "", 1), "follower_cluster = F", "", 1),
			problems: []string{"[pegasus.clusters] missing", "follower_cluster: required"}},
		{name: "unknown role", text: strings.Replace(sprintf(edgeBase, "", ""), "role = edge", "role = hub", 1),
			problems: []string{`role: "hub": want direct, edge or sink`, "[pegasus.clusters] missing", "follower_cluster: required"}},
		{name: "sink relay_listen clashes with http_listen", text: sprintf(sinkBase, "http_listen = 127.0.0.1:34701", ""),
			problems: []string{`http_listen: "127.0.0.1:34701" clashes with relay_listen`}},
		{name: "sink relay_listen clashes with the meta-proxy", text: sprintf(sinkBase, "", "") + "[meta-proxy]\n  listen = 0.0.0.0:34701\n  zk = 127.0.0.1:2181\n",
			problems: []string{`[meta-proxy] listen: "0.0.0.0:34701" clashes with [dupbridge] relay_listen`}},
		{name: "token missing", text: strings.Replace(sprintf(sinkBase, "", ""), "relay_token = 0123456789abcdef", "", 1),
			problems: []string{"relay_token: required with role = sink"}},
	}
	direct := strings.Replace(base, "  cluster_name = B\n", "  cluster_name = B\n  relay_token = 0123456789abcdef\n", 1)
	cases = append(cases, struct {
		name, text string
		problems   []string
		check      func(t *testing.T, c *Config)
	}{name: "relay key on a direct bridge", text: direct, problems: []string{"relay_token: only meaningful with role = edge or sink"}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.text), "x.ini")
			if len(tc.problems) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			ce, ok := err.(*Error)
			if !ok {
				t.Fatalf("want problems %q, got %v", tc.problems, err)
			}
			if len(ce.Problems) != len(tc.problems) {
				t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), len(tc.problems), err)
			}
			for _, want := range tc.problems {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("no problem %q in:\n%v", want, err)
				}
			}
		})
	}
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
