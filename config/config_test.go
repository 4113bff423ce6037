package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// base is a valid file; tests replace single lines of it. Line numbers:
const base = `[pegasus.clusters]
  B_real = 127.0.0.1:34601,127.0.0.1:34602
[duplication-group]
  A = 1
  B = 2
[dupbridge]
  listen = 127.0.0.1:34801
  cluster_name = B
[table.temp]
  follower_cluster = B_real
`

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(base), "base.ini")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Clusters["B_real"]; len(got) != 2 || got[1] != "127.0.0.1:34602" {
		t.Errorf("clusters = %v", c.Clusters)
	}
	if c.ClusterIDs["A"] != 1 || c.ClusterIDs["B"] != 2 {
		t.Errorf("ids = %v", c.ClusterIDs)
	}
	b := c.Bridge
	if b.AdvertisedAddr.String() != "127.0.0.1:34801" || b.AdvertisedHost != "127.0.0.1" {
		t.Errorf("advertised defaults: %v %q", b.AdvertisedAddr, b.AdvertisedHost)
	}
	if b.MaxInflightBytes != DefaultMaxInflightBytes || b.MaxFrameSize != DefaultMaxFrameSize ||
		!b.SendHostPort || b.ShutdownTimeout != DefaultShutdownTimeout || b.FullDuplication != FullDupLoad || b.CheckpointCopyParallel != DefaultCheckpointCopyParallel ||
		b.CheckpointCopyRate != 0 || b.CheckpointLoadRate != 0 ||
		b.LaggingWriteThreshold != DefaultLaggingWriteThreshold || DefaultLaggingWriteThreshold != 10*time.Second ||
		b.AdminToken != "" || b.AdminInsecure || b.ReadyFollowerTimeout != DefaultReadyFollowerTimeout || b.ReadyLagThreshold != DefaultReadyLagThreshold {
		t.Errorf("bridge defaults: %+v", b)
	}
	if len(c.Tables) != 1 {
		t.Fatalf("tables = %v", c.Tables)
	}
	tb := c.Tables[0]
	if tb.Name != "temp" || tb.SourceTable != "temp" || tb.FollowerTable != "temp" || tb.AppID != 1 ||
		tb.FollowerCluster != "B_real" || tb.FailurePolicy != PolicySlow || tb.Line != 9 {
		t.Errorf("table = %+v", tb)
	}
	// Default acceptance: every configured id except the own one (B = 2).
	for id, want := range map[int8]bool{0: false, 1: true, 2: false, 3: false, -1: false} {
		if got := c.Allows(&c.Tables[0], id); got != want {
			t.Errorf("Allows(%d) = %v, want %v", id, got, want)
		}
	}
}

func TestParseExample(t *testing.T) {
	c, err := Load(filepath.Join("..", "examples", "dupbridge.ini"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tables) != 2 || c.Bridge.AdvertisedHost != "dupbridge-1.example.com" || c.Bridge.MaxInflightBytes != 256<<20 {
		t.Fatalf("example: %+v", c)
	}
	users := c.Table("users")
	if users == nil || users.FailurePolicy != PolicySkip || users.SkipAfterAttempts != 100 || users.FollowerTable != "users_copy" {
		t.Fatalf("users = %+v", users)
	}
	temp := c.Table("temp")
	if !c.Allows(temp, 1) || c.Allows(temp, 2) || temp.MasterCluster != "A" || temp.FollowerPartitionCount != 16 {
		t.Errorf("temp = %+v", temp)
	}
	if c.Bridge.ShutdownTimeout != 30*time.Second {
		t.Errorf("shutdown_timeout = %v", c.Bridge.ShutdownTimeout)
	}
	if b := c.Bridge; b.MaxConnections != DefaultMaxConnections || b.MaxConnectionsPerPeer != DefaultMaxConnectionsPerPeer ||
		b.MaxConnectionBytes != 32<<20 || b.FrameTimeout != DefaultFrameTimeout || b.IdleTimeout != DefaultIdleTimeout || b.AllowedPeers != nil {
		t.Errorf("connection limits = %+v", b)
	}
	if c.Bridge.LaggingWriteThreshold != 10*time.Second {
		t.Errorf("lagging_write_threshold = %v", c.Bridge.LaggingWriteThreshold)
	}
}

func TestParseOptions(t *testing.T) {
	text := strings.Replace(base, "  cluster_name = B\n", `  cluster_name = B
  advertised_address = 10.0.0.9:34601
  advertised_host = bridge.local
  http_listen = 127.0.0.1:0
  max_inflight_bytes = 1GiB
  max_frame_size = 4MiB
  send_host_port = false
  legacy_peers = 10.0.0.5, 192.168.7.0/24
  shutdown_timeout = 5s
  event_loops = 4
  full_duplication = without_checkpoint
  lagging_write_threshold = 1500ms
  admin_token = "0123456789abcdef+/="
  admin_insecure = yes
  ready_follower_timeout = 5s
  ready_lag_threshold = 2m
  max_connections = 100
  max_connections_per_peer = 10
  max_connection_bytes = 8MiB
  frame_timeout = 5s
  idle_timeout = 0s
  allowed_peers = 10.0.0.0/8, ::1/128
  checkpoint_copy_rate = 50MiB
  checkpoint_copy_parallel = 8
  checkpoint_load_rate = 20000
`, 1) + `  app_id = 7
  source_table = src
  follower_table = dst
  follower_partition_count = 8
  advertised_partition_count = 4
  failure_policy = skip
  skip_after_attempts = 3
  allowed_cluster_ids = 1
  paused = true
  verify_timetag = true
`
	c, err := Parse([]byte(text), "x")
	if err != nil {
		t.Fatal(err)
	}
	b := c.Bridge
	if b.AdvertisedAddr.String() != "10.0.0.9:34601" || b.AdvertisedHost != "bridge.local" || b.HTTPListen != "127.0.0.1:0" ||
		b.MaxInflightBytes != 1<<30 || b.MaxFrameSize != 4<<20 || b.SendHostPort || b.ShutdownTimeout != 5*time.Second ||
		b.EventLoops != 4 || b.FullDuplication != FullDupWithoutCheckpoint || b.LaggingWriteThreshold != 1500*time.Millisecond ||
		fmt.Sprint(b.LegacyPeers) != "[10.0.0.5/32 192.168.7.0/24]" || b.AdminToken != "0123456789abcdef+/=" || !b.AdminInsecure ||
		b.ReadyFollowerTimeout != 5*time.Second || b.ReadyLagThreshold != 2*time.Minute ||
		b.MaxConnections != 100 || b.MaxConnectionsPerPeer != 10 || b.MaxConnectionBytes != 8<<20 ||
		b.FrameTimeout != 5*time.Second || b.IdleTimeout != 0 || fmt.Sprint(b.AllowedPeers) != "[10.0.0.0/8 ::1/128]" ||
		b.CheckpointCopyRate != 50<<20 || b.CheckpointCopyParallel != 8 || b.CheckpointLoadRate != 20000 {
		t.Errorf("bridge = %+v", b)
	}
	tb := c.Tables[0]
	if tb.AppID != 7 || tb.SourceTable != "src" || tb.FollowerTable != "dst" || tb.FollowerPartitionCount != 8 ||
		tb.AdvertisedPartitionCount != 4 || tb.FailurePolicy != PolicySkip || tb.SkipAfterAttempts != 3 ||
		len(tb.AllowedClusterIDs) != 1 || !tb.Paused || !tb.VerifyTimetag {
		t.Errorf("table = %+v", tb)
	}
}

// TestParseErrors covers every validation error: the line it is reported
// on and a phrase of its explanation.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace old by new in base ("" old: append new)
		line     int
		want     string
	}{
		{"key outside section", "[pegasus.clusters]\n", "stray = 1\n[pegasus.clusters]\n", 1, "outside any section"},
		{"unknown section", "", "[replication]\n  x = 1\n", 11, "unknown section"},
		{"no clusters", "[pegasus.clusters]\n  B_real = 127.0.0.1:34601,127.0.0.1:34602\n", "[pegasus.clusters]\n", 1, "missing or empty"},
		{"bad meta address", "127.0.0.1:34602", "nohostport", 2, "meta address"},
		{"empty meta list", "127.0.0.1:34601,127.0.0.1:34602", " , ", 2, "no meta address"},
		{"no group", "[duplication-group]\n  A = 1\n  B = 2\n", "[duplication-group]\n", 3, "missing or empty"},
		{"id not int", "A = 1", "A = one", 4, "1..127"},
		{"id zero", "A = 1", "A = 0", 4, "1..127"},
		{"id too big", "A = 1", "A = 128", 4, "1..127"},
		{"id duplicate", "B = 2", "B = 1", 5, "already used"},
		{"no bridge", "[dupbridge]\n  listen = 127.0.0.1:34801\n  cluster_name = B\n", "", 0, "missing section"},
		{"no listen", "  listen = 127.0.0.1:34801\n", "", 6, "listen: required"},
		{"bad listen", "listen = 127.0.0.1:34801", "listen = 127.0.0.1", 7, "want host:port"},
		{"bad listen port", "listen = 127.0.0.1:34801", "listen = 127.0.0.1:99999", 7, "bad port"},
		{"unknown bridge key", "  cluster_name = B\n", "  cluster_name = B\n  listne = 1\n", 9, "unknown key"},
		{"advertised needed", "listen = 127.0.0.1:34801", "listen = 0.0.0.0:34801", 6, "required when listen"},
		{"advertised ipv6", "  cluster_name = B\n", "  cluster_name = B\n  advertised_address = [::1]:34801\n", 9, "must be IPv4"},
		{"advertised garbage", "  cluster_name = B\n", "  cluster_name = B\n  advertised_address = bridge:1\n", 9, "want IPv4 ip:port"},
		{"advertised unspecified", "  cluster_name = B\n", "  cluster_name = B\n  advertised_address = 0.0.0.0:34801\n", 9, "concrete"},
		{"advertised host", "  cluster_name = B\n", "  cluster_name = B\n  advertised_host = a b\n", 9, "not a valid host name"},
		{"http listen", "  cluster_name = B\n", "  cluster_name = B\n  http_listen = nope\n", 9, "http_listen"},
		{"frame size", "  cluster_name = B\n", "  cluster_name = B\n  max_frame_size = 10\n", 9, "64KiB to 1GiB"},
		{"inflight bad", "  cluster_name = B\n", "  cluster_name = B\n  max_inflight_bytes = lots\n", 9, "positive size"},
		{"inflight below frame", "  cluster_name = B\n", "  cluster_name = B\n  max_inflight_bytes = 1MiB\n", 9, "below max_frame_size"},
		{"send_host_port", "  cluster_name = B\n", "  cluster_name = B\n  send_host_port = maybe\n", 9, "true or false"},
		{"legacy_peers garbage", "  cluster_name = B\n", "  cluster_name = B\n  legacy_peers = 10.0.0.1, nope\n", 9, "IPv4 addresses or prefixes"},
		{"legacy_peers ipv6", "  cluster_name = B\n", "  cluster_name = B\n  legacy_peers = ::1\n", 9, "not IPv4"},
		{"cluster_name unknown", "cluster_name = B", "cluster_name = C", 8, "not in [duplication-group]"},
		{"shutdown timeout", "  cluster_name = B\n", "  cluster_name = B\n  shutdown_timeout = soon\n", 9, "duration"},
		{"lagging threshold garbage", "  cluster_name = B\n", "  cluster_name = B\n  lagging_write_threshold = 10\n", 9, "positive duration"},
		{"lagging threshold zero", "  cluster_name = B\n", "  cluster_name = B\n  lagging_write_threshold = 0s\n", 9, "lagging_write_threshold"},
		{"lagging threshold negative", "  cluster_name = B\n", "  cluster_name = B\n  lagging_write_threshold = -1s\n", 9, "positive duration"},
		{"event loops", "  cluster_name = B\n", "  cluster_name = B\n  event_loops = -1\n", 9, "1024"},
		{"max_connections", "  cluster_name = B\n", "  cluster_name = B\n  max_connections = 0\n", 9, "1 to 1048576"},
		{"per peer above total", "  cluster_name = B\n", "  cluster_name = B\n  max_connections = 10\n  max_connections_per_peer = 11\n", 10, "to max_connections"},
		{"connection bytes below frame", "  cluster_name = B\n", "  cluster_name = B\n  max_connection_bytes = 1MiB\n", 9, "from max_frame_size"},
		{"frame timeout", "  cluster_name = B\n", "  cluster_name = B\n  frame_timeout = 0s\n", 9, "positive duration"},
		{"idle timeout", "  cluster_name = B\n", "  cluster_name = B\n  idle_timeout = -1s\n", 9, "0 disables"},
		{"allowed_peers bare address", "  cluster_name = B\n", "  cluster_name = B\n  allowed_peers = 10.0.0.1\n", 9, "CIDR prefixes"},
		{"checkpoint copy rate", "  cluster_name = B\n", "  cluster_name = B\n  checkpoint_copy_rate = fast\n", 9, "size per second"},
		{"checkpoint copy parallel", "  cluster_name = B\n", "  cluster_name = B\n  checkpoint_copy_parallel = 0\n", 9, "1 to 256"},
		{"checkpoint load rate", "  cluster_name = B\n", "  cluster_name = B\n  checkpoint_load_rate = -5\n", 9, "keys per second"},
		{"full duplication", "  cluster_name = B\n", "  cluster_name = B\n  full_duplication = yes\n", 9, "load, reject or without_checkpoint"},
		{"no tables", "[table.temp]\n  follower_cluster = B_real\n", "", 0, "no [table.NAME]"},
		{"bad table name", "[table.temp]", "[table.te/mp]", 9, "table name"},
		{"unknown table key", "", "  folower_table = x\n", 11, "unknown key"},
		{"app id", "", "  app_id = zero\n", 11, "positive integer"},
		{"app id duplicate", "", "[table.other]\n  follower_cluster = B_real\n  app_id = 1\n", 13, "also the app id of [table.temp] (line 9)"},
		{"app id default taken", "", "  app_id = 2\n[table.other]\n  follower_cluster = B_real\n", 12, "default app id 2 (the table's position) is taken by [table.temp] (line 11): set app_id"},
		{"renamed copy", "", "[table.temp2]\n  follower_cluster = B_real\n  follower_table = temp\n", 11, "forwards into follower table B_real/temp like [table.temp] (line 9)"},
		{"repeated section", "", "[table.temp]\n  follower_table = elsewhere\n", 11, "[table.temp] section repeated (first at line 9)"},
		{"repeated key", "B = 2", "B = 2\n  A = 5", 6, "[duplication-group] A: key repeated (first at line 4)"},
		{"repeated bridge key", "  cluster_name = B\n", "  cluster_name = B\n  listen = 127.0.0.1:1\n", 9, "listen: key repeated (first at line 7)"},
		{"not key value", "", "  follower_table\n", 11, "want key = value"},
		{"bad header", "", "[table.x\n", 11, "not a section header"},
		{"http equals listen", "  cluster_name = B\n", "  cluster_name = B\n  http_listen = 127.0.0.1:34801\n", 9, "clashes with listen = \"127.0.0.1:34801\" (line 7)"},
		{"http wildcard same port", "  cluster_name = B\n", "  cluster_name = B\n  http_listen = 0.0.0.0:34801\n  admin_insecure = true\n", 9, "clashes with listen"},
		{"http localhost same port", "  cluster_name = B\n", "  cluster_name = B\n  http_listen = localhost:34801\n", 9, "clashes with listen"},
		{"future listen key clash", "  cluster_name = B\n", "  cluster_name = B\n  http_listen = 127.0.0.1:9000\n  sink_listen = :9000\n", 10, "sink_listen: \":9000\" clashes with http_listen"},
		{"http public no token", "  cluster_name = B\n", "  cluster_name = B\n  http_listen = 0.0.0.0:34680\n", 9, "not a loopback address"},
		{"http empty host no token", "  cluster_name = B\n", "  cluster_name = B\n  http_listen = :34680\n", 9, "admin_token"},
		{"http lan ip no token", "  cluster_name = B\n", "  cluster_name = B\n  http_listen = 10.1.2.3:34680\n", 9, "admin_insecure = true"},
		{"admin token short", "  cluster_name = B\n", "  cluster_name = B\n  admin_token = abc\n", 9, "too short"},
		{"admin token chars", "  cluster_name = B\n", "  cluster_name = B\n  admin_token = abcdefghijklmnop qrs\n", 9, "' ' not allowed"},
		{"admin insecure", "  cluster_name = B\n", "  cluster_name = B\n  admin_insecure = sure\n", 9, "true or false"},
		{"ready follower timeout", "  cluster_name = B\n", "  cluster_name = B\n  ready_follower_timeout = 0s\n", 9, "positive duration"},
		{"ready lag threshold", "  cluster_name = B\n", "  cluster_name = B\n  ready_lag_threshold = soon\n", 9, "positive duration"},
		{"source table", "", "  source_table = a b\n", 11, "not a valid table name"},
		{"follower table", "", "  follower_table = a/b\n", 11, "not a valid table name"},
		{"no follower cluster", "  follower_cluster = B_real\n", "", 9, "follower_cluster: required"},
		{"unknown follower cluster", "follower_cluster = B_real", "follower_cluster = C", 10, "not in [pegasus.clusters]"},
		{"follower count", "", "  follower_partition_count = 6\n", 11, "power of two"},
		{"advertised count", "", "  advertised_partition_count = -4\n", 11, "power of two"},
		{"policy", "", "  failure_policy = fast\n", 11, "slow or skip"},
		{"skip without attempts", "", "  failure_policy = skip\n", 11, "needs skip_after_attempts"},
		{"attempts without skip", "", "  skip_after_attempts = 3\n", 11, "only meaningful"},
		{"attempts bad", "", "  failure_policy = skip\n  skip_after_attempts = 0\n", 12, "positive integer"},
		{"both allowed and master", "", "  allowed_cluster_ids = 1\n  master_cluster = A\n", 12, "not both"},
		{"allowed unknown name", "", "  allowed_cluster_ids = Z\n", 11, "not a cluster"},
		{"allowed out of range", "", "  allowed_cluster_ids = 200\n", 11, "1..127"},
		{"allowed unconfigured id", "", "  allowed_cluster_ids = 9\n", 11, "not in [duplication-group]"},
		{"allowed own id", "", "  allowed_cluster_ids = B\n", 11, "own cluster id"},
		{"master unknown", "", "  master_cluster = Z\n", 11, "not in [duplication-group]"},
		{"master own", "", "  master_cluster = B\n", 11, "own cluster"},
		{"paused", "", "  paused = perhaps\n", 11, "true or false"},
		{"verify_timetag", "", "  verify_timetag = sometimes\n", 11, "true or false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := base + tc.new
			if tc.old != "" {
				if !strings.Contains(base, tc.old) {
					t.Fatalf("base lacks %q", tc.old)
				}
				text = strings.Replace(base, tc.old, tc.new, 1)
			}
			_, err := Parse([]byte(text), "t.ini")
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid")
			}
			found := false
			for _, p := range ce.Problems {
				if strings.Contains(p.String(), tc.want) && p.Line == tc.line {
					found = true
				}
			}
			if !found {
				t.Errorf("want a problem on line %d containing %q; got:\n%v", tc.line, tc.want, err)
			}
		})
	}
}

func TestParseNotINI(t *testing.T) {
	_, err := Parse([]byte("[unterminated\n"), "bad.ini")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `line 1: not a section header "[unterminated"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.ini"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestErrorListsAll(t *testing.T) {
	text := strings.Replace(base, "A = 1", "A = x", 1) + "  failure_policy = fast\n"
	_, err := Parse([]byte(text), "two.ini")
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("want 2 problems, got %v", err)
	}
	if !strings.Contains(err.Error(), "two.ini:line 4:") || !strings.Contains(err.Error(), "two.ini:line 11:") {
		t.Errorf("message lacks file:line prefixes:\n%v", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true}, {"4KiB", 4 << 10, true}, {"64MiB", 64 << 20, true}, {"1GiB", 1 << 30, true},
		{"2M", 2 << 20, true}, {"3 MB", 3 << 20, true}, {"10B", 10, true},
		{"", 0, false}, {"x", 0, false}, {"-1", 0, false}, {"99999999999GiB", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestExampleDocumentsEveryKey: every key the parser knows has a line in
// examples/dupbridge.ini, set or commented out, and the file still parses
// with every commented-out key line enabled.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "dupbridge.ini"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for k := range bridgeKeys {
		known[k] = true
	}
	for k := range tableKeys {
		known[k] = true
	}
	documented := map[string]bool{}
	var enabled []string
	for _, line := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(line)
		commented := strings.HasPrefix(s, ";")
		s = strings.TrimSpace(strings.TrimPrefix(s, ";"))
		k, _, ok := strings.Cut(s, " = ")
		if ok && known[k] {
			documented[k] = true
			if commented {
				line = strings.Replace(line, ";", "", 1)
			}
		}
		enabled = append(enabled, line)
	}
	for k := range known {
		if !documented[k] {
			t.Errorf("key %s has no line in examples/dupbridge.ini", k)
		}
	}
	if _, err := Parse([]byte(strings.Join(enabled, "\n")), "example-enabled.ini"); err != nil {
		t.Errorf("example with every key enabled: %v", err)
	}
}
