package config

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Section names.
const (
	SectionClusters    = "pegasus.clusters"
	SectionGroup       = "duplication-group"
	SectionBridge      = "dupbridge"
	SectionTablePrefix = "table."
)

type parser struct {
	f        *iniFile
	problems []Problem
	badRole  bool // [dupbridge] role is invalid (relay.go)
	dropped  int  // problems beyond maxProblems, counted only
}

// maxProblems bounds the problems kept: a binary or foreign file would
// otherwise produce one per line.
const maxProblems = 100

func (p *parser) add(pr Problem) {
	if p.full() {
		return
	}
	p.problems = append(p.problems, pr)
}

// full reports (and counts) a problem that would not be kept, so that
// its message is never formatted.
func (p *parser) full() bool {
	if len(p.problems) < maxProblems {
		return false
	}
	p.dropped++
	return true
}

func (p *parser) errSection(section, format string, args ...any) {
	if p.full() {
		return
	}
	line := 0
	if s := p.f.byName[section]; s != nil {
		line = s.line
	}
	p.add(Problem{Line: line, Section: section, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) errKey(section, key, format string, args ...any) {
	if p.full() {
		return
	}
	line := 0
	if s := p.f.byName[section]; s != nil {
		line = s.keyLine(key)
	}
	p.add(Problem{Line: line, Section: section, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Parse validates data (the text of a file called name) and returns the
// configuration, or an *Error listing every problem with its line.
func Parse(data []byte, name string) (*Config, error) {
	return ParseContext(context.Background(), data, name)
}

// ParseContext is Parse that gives up when ctx ends (parsing is linear in
// the file's size; the context only matters for huge files).
func ParseContext(ctx context.Context, data []byte, name string) (*Config, error) {
	p := &parser{}
	f, err := scanINI(ctx, data, p)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	p.f = f
	c := &Config{File: name, Clusters: map[string][]string{}, ClusterIDs: map[string]int8{}}

	for _, s := range f.sections {
		n := s.name
		switch {
		case n == defaultSection:
			for _, k := range s.keys {
				p.add(Problem{Line: k.line, Key: k.name, Msg: "key outside any section"})
			}
		case n == SectionClusters, n == SectionGroup, n == SectionBridge, n == SectionMetaProxy:
		case strings.HasPrefix(n, SectionTablePrefix):
		default:
			p.errSection(n, "unknown section (expected [%s], [%s], [%s], [%sNAME] or [%s])",
				SectionClusters, SectionGroup, SectionBridge, SectionTablePrefix, SectionMetaProxy)
		}
	}

	p.role(c)
	p.metaProxy(c)
	// A file with [meta-proxy] and none of the bridge's sections configures
	// a meta-proxy alone: the bridge's required sections are not asked for.
	if c.MetaProxy == nil || p.bridgeSections() {
		p.clusters(c)
		p.group(c)
		p.bridge(c)
		p.adminAccess(&c.Bridge)
		p.tables(c)
	}
	p.listenClashes()

	if p.dropped > 0 {
		p.problems = append(p.problems, Problem{Msg: fmt.Sprintf("and %d more problem(s) not shown", p.dropped)})
	}
	if len(p.problems) > 0 {
		return nil, &Error{File: name, Problems: p.problems}
	}
	return c, nil
}

func (p *parser) clusters(c *Config) {
	s := p.f.byName[SectionClusters]
	if s == nil || len(s.keys) == 0 {
		if c.Bridge.Role == RoleEdge {
			return // an edge ships to its sink, which knows the follower
		}
		p.errSection(SectionClusters, "missing or empty: list each follower cluster as NAME = host:port,host:port (its meta servers)")
		return
	}
	for _, k := range s.keys {
		var addrs []string
		ok := true
		for a := range strings.SplitSeq(k.value, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			if err := checkHostPort(a); err != nil {
				p.errKey(SectionClusters, k.name, "meta address %q: %v", a, err)
				ok = false
				continue
			}
			addrs = append(addrs, a)
		}
		if len(addrs) == 0 && ok {
			p.errKey(SectionClusters, k.name, "no meta address")
		}
		c.Clusters[k.name] = addrs
	}
}

func (p *parser) group(c *Config) {
	s := p.f.byName[SectionGroup]
	if s == nil || len(s.keys) == 0 {
		p.errSection(SectionGroup, "missing or empty: list the master cluster ids as NAME = 1..127, as in Pegasus (duplication.md §5)")
		return
	}
	byID := map[int8]string{}
	for _, k := range s.keys {
		v, err := strconv.Atoi(k.value)
		if err != nil || v < 1 || v > 127 {
			p.errKey(SectionGroup, k.name, "cluster id %q: want an integer 1..127", k.value)
			continue
		}
		id := int8(v)
		if other, dup := byID[id]; dup {
			p.errKey(SectionGroup, k.name, "cluster id %d already used by %q (ids must be unique)", id, other)
			continue
		}
		byID[id] = k.name
		c.ClusterIDs[k.name] = id
	}
}

var bridgeKeys = map[string]bool{
	"listen": true, "advertised_address": true, "advertised_host": true, "http_listen": true,
	"max_inflight_bytes": true, "max_frame_size": true, "send_host_port": true, "legacy_peers": true, "cluster_name": true,
	"shutdown_timeout": true, "event_loops": true, "full_duplication": true,
	"lagging_write_threshold": true, "state_dir": true,
	"admin_token": true, "admin_insecure": true, "ready_follower_timeout": true, "ready_lag_threshold": true,
	"max_connections": true, "max_connections_per_peer": true, "max_connection_bytes": true,
	"frame_timeout": true, "idle_timeout": true, "allowed_peers": true,
	"http_tls_cert": true, "http_tls_key": true, "log_level": true, "log_format": true,
	"log_file": true, "log_file_max_size": true, "log_file_max_backups": true, "log_file_max_age": true,
	"checkpoint_copy_rate": true, "checkpoint_copy_parallel": true, "checkpoint_load_rate": true,
}

// bridgeOps reads the operator's keys of [dupbridge]: HTTPS and logs.
func (p *parser) bridgeOps(b *Bridge, get func(string) (string, bool)) {
	const sec = SectionBridge
	cert, hasCert := get("http_tls_cert")
	key, hasKey := get("http_tls_key")
	switch {
	case (hasCert && cert != "") != (hasKey && key != ""):
		p.errKey(sec, "http_tls_cert", "http_tls_cert and http_tls_key go together (both PEM files, or neither)")
	case hasCert && cert != "":
		b.HTTPTLSCert, b.HTTPTLSKey = cert, key
	}
	l := &b.Log
	l.Level, l.Format = DefaultLogLevel, DefaultLogFormat
	l.MaxSizeMB, l.MaxBackups = DefaultLogMaxSizeMB, DefaultLogMaxBackups
	if v, ok := get("log_level"); ok && v != "" {
		switch v {
		case "debug", "info", "warn", "error":
			l.Level = v
		default:
			p.errKey(sec, "log_level", "%q: want debug, info, warn or error", v)
		}
	}
	if v, ok := get("log_format"); ok && v != "" {
		if v != "json" && v != "console" {
			p.errKey(sec, "log_format", "%q: want json or console", v)
		} else {
			l.Format = v
		}
	}
	if v, ok := get("log_file"); ok && v != "" {
		if strings.ContainsRune(v, 0) {
			p.errKey(sec, "log_file", "%q: not a usable path", v)
		} else {
			l.File = v
		}
	}
	for _, k := range []struct {
		name string
		dst  *int
	}{{"log_file_max_size", &l.MaxSizeMB}, {"log_file_max_backups", &l.MaxBackups}, {"log_file_max_age", &l.MaxAgeDays}} {
		v, ok := get(k.name)
		if !ok || v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || (k.name == "log_file_max_size" && n == 0) {
			p.errKey(sec, k.name, "%q: want a non-negative integer (max_size: MiB, at least 1; max_age: days)", v)
			continue
		}
		*k.dst = n
	}
}

func (p *parser) bridge(c *Config) {
	b := &c.Bridge
	b.MaxInflightBytes = DefaultMaxInflightBytes
	b.MaxFrameSize = DefaultMaxFrameSize
	b.SendHostPort = true
	b.ShutdownTimeout = DefaultShutdownTimeout
	b.LaggingWriteThreshold = DefaultLaggingWriteThreshold
	b.StateDir = DefaultStateDir
	b.ReadyFollowerTimeout = DefaultReadyFollowerTimeout
	b.ReadyLagThreshold = DefaultReadyLagThreshold
	b.MaxConnections = DefaultMaxConnections
	b.MaxConnectionsPerPeer = DefaultMaxConnectionsPerPeer
	b.FrameTimeout = DefaultFrameTimeout
	b.IdleTimeout = DefaultIdleTimeout
	b.CheckpointCopyParallel = DefaultCheckpointCopyParallel
	s := p.f.byName[SectionBridge]
	if s == nil {
		p.add(Problem{Section: SectionBridge, Msg: "missing section (needs at least listen and advertised_address)"})
		return
	}
	const sec = SectionBridge
	get := p.keys(s, sec, bridgeAndRelayKeys)
	if v, _ := get("listen"); v != "" || c.Bridge.Role != RoleSink { // a sink faces edges only (relay_listen)
		b.Listen = p.hostPort(sec, "listen", get, "required: the RPC listen address host:port")
	}

	if v, ok := get("advertised_address"); ok && v != "" {
		ap, err := netip.ParseAddrPort(v)
		switch {
		case err != nil:
			p.errKey(sec, "advertised_address", "%q: want IPv4 ip:port (%v)", v, err)
		case !ap.Addr().Unmap().Is4():
			p.errKey(sec, "advertised_address", "%q: must be IPv4, rpc_address cannot carry IPv6 (wire.md §1.5)", v)
		case ap.Addr().IsUnspecified() || ap.Port() == 0:
			p.errKey(sec, "advertised_address", "%q: must be a concrete address masters can reach", v)
		default:
			b.AdvertisedAddr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
	} else if b.Listen != "" {
		ap, err := netip.ParseAddrPort(b.Listen)
		if err != nil || !ap.Addr().Unmap().Is4() || ap.Addr().IsUnspecified() || ap.Port() == 0 {
			p.errKey(sec, "advertised_address", "required when listen (%q) is not a concrete IPv4 ip:port", b.Listen)
		} else {
			b.AdvertisedAddr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
	}

	if v, ok := get("advertised_host"); ok && v != "" {
		if !validHostName(v) {
			p.errKey(sec, "advertised_host", "%q: not a valid host name", v)
		} else {
			b.AdvertisedHost = v
		}
	} else if b.AdvertisedAddr.IsValid() {
		b.AdvertisedHost = b.AdvertisedAddr.Addr().String()
	}

	if v, ok := get("state_dir"); ok && v != "" {
		if strings.ContainsRune(v, 0) {
			p.errKey(sec, "state_dir", "%q: not a usable path", v)
		} else {
			b.StateDir = v
		}
	}
	p.bridgeOps(b, get)

	if v, ok := get("http_listen"); ok && v != "" {
		if err := checkHostPort(v); err != nil {
			p.errKey(sec, "http_listen", "%q: %v", v, err)
		} else {
			b.HTTPListen = v
		}
	}
	if v, ok := get("admin_token"); ok && v != "" {
		if err := checkToken(v); err != nil {
			p.errKey(sec, "admin_token", "%v", err)
		} else {
			b.AdminToken = v
		}
	}
	if v, ok := get("admin_insecure"); ok {
		bv, err := parseBool(v)
		if err != nil {
			p.errKey(sec, "admin_insecure", "%q: want true or false", v)
		} else {
			b.AdminInsecure = bv
		}
	}

	if v, ok := get("max_frame_size"); ok {
		n, err := ParseSize(v)
		if err != nil || n < 64<<10 || n > 1<<30 {
			p.errKey(sec, "max_frame_size", "%q: want a size from 64KiB to 1GiB", v)
		} else {
			b.MaxFrameSize = int(n)
		}
	}
	if v, ok := get("max_inflight_bytes"); ok {
		n, err := ParseSize(v)
		if err != nil || n <= 0 {
			p.errKey(sec, "max_inflight_bytes", "%q: want a positive size such as 256MiB", v)
		} else {
			b.MaxInflightBytes = n
		}
	}
	if b.MaxInflightBytes < int64(b.MaxFrameSize) {
		p.errKey(sec, "max_inflight_bytes", "%d is below max_frame_size %d: one request could never be admitted", b.MaxInflightBytes, b.MaxFrameSize)
	}

	if v, ok := get("send_host_port"); ok {
		bv, err := parseBool(v)
		if err != nil {
			p.errKey(sec, "send_host_port", "%q: want true or false", v)
		} else {
			b.SendHostPort = bv
		}
	}
	if v, ok := get("legacy_peers"); ok && v != "" {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			var pf netip.Prefix
			var err error
			if strings.Contains(item, "/") {
				pf, err = netip.ParsePrefix(item)
			} else {
				var a netip.Addr
				if a, err = netip.ParseAddr(item); err == nil {
					pf = netip.PrefixFrom(a, a.BitLen())
				}
			}
			if err == nil && !pf.Addr().Unmap().Is4() {
				err = fmt.Errorf("not IPv4 (Pegasus peers use IPv4 rpc_address, wire.md §1.5)")
			}
			if err != nil {
				p.errKey(sec, "legacy_peers", "%q: want IPv4 addresses or prefixes such as 10.0.0.0/24 (%v)", item, err)
				continue
			}
			b.LegacyPeers = append(b.LegacyPeers, pf.Masked())
		}
	}
	if v, ok := get("cluster_name"); ok && v != "" {
		if _, known := c.ClusterIDs[v]; !known && len(c.ClusterIDs) > 0 {
			p.errKey(sec, "cluster_name", "%q is not in [%s]", v, SectionGroup)
		}
		b.ClusterName = v
	}
	if v, ok := get("shutdown_timeout"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			p.errKey(sec, "shutdown_timeout", "%q: want a duration such as 30s", v)
		} else {
			b.ShutdownTimeout = d
		}
	}
	if v, ok := get("lagging_write_threshold"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			p.errKey(sec, "lagging_write_threshold", "%q: want a positive duration such as 10s", v)
		} else {
			b.LaggingWriteThreshold = d
		}
	}
	if v, ok := get("ready_follower_timeout"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			p.errKey(sec, "ready_follower_timeout", "%q: want a positive duration such as 30s", v)
		} else {
			b.ReadyFollowerTimeout = d
		}
	}
	if v, ok := get("ready_lag_threshold"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			p.errKey(sec, "ready_lag_threshold", "%q: want a positive duration such as 60s", v)
		} else {
			b.ReadyLagThreshold = d
		}
	}
	if v, ok := get("event_loops"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1024 {
			p.errKey(sec, "event_loops", "%q: want 0 (one per CPU) to 1024", v)
		} else {
			b.EventLoops = n
		}
	}
	p.bridgeLimits(sec, get, b)
	if v, ok := get("checkpoint_copy_rate"); ok && v != "" {
		n, err := ParseSize(v)
		if err != nil || n < 0 {
			p.errKey(sec, "checkpoint_copy_rate", "%q: want a size per second such as 100MiB, or 0 for no limit", v)
		} else {
			b.CheckpointCopyRate = n
		}
	}
	if v, ok := get("checkpoint_copy_parallel"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			p.errKey(sec, "checkpoint_copy_parallel", "%q: want 1 to 256 files at once", v)
		} else {
			b.CheckpointCopyParallel = n
		}
	}
	if v, ok := get("checkpoint_load_rate"); ok && v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 {
			p.errKey(sec, "checkpoint_load_rate", "%q: want keys per second, or 0 for no limit", v)
		} else {
			b.CheckpointLoadRate = n
		}
	}
	if v, ok := get("full_duplication"); ok {
		switch v {
		case "load":
			b.FullDuplication = FullDupLoad
		case "reject":
			b.FullDuplication = FullDupReject
		case "without_checkpoint":
			b.FullDuplication = FullDupWithoutCheckpoint
		default:
			p.errKey(sec, "full_duplication", "%q: want load, reject or without_checkpoint", v)
		}
	}
	p.relay(get, c)
}

// bridgeLimits reads the RPC port's connection and memory limits (issue 8).
func (p *parser) bridgeLimits(sec string, get func(string) (string, bool), b *Bridge) {
	if v, ok := get("max_connections"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1<<20 {
			p.errKey(sec, "max_connections", "%q: want 1 to 1048576", v)
		} else {
			b.MaxConnections = n
		}
	}
	if v, ok := get("max_connections_per_peer"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > b.MaxConnections {
			p.errKey(sec, "max_connections_per_peer", "%q: want 1 to max_connections (%d)", v, b.MaxConnections)
		} else {
			b.MaxConnectionsPerPeer = n
		}
	}
	b.MaxConnectionBytes = 2 * int64(b.MaxFrameSize)
	if v, ok := get("max_connection_bytes"); ok {
		n, err := ParseSize(v)
		if err != nil || n < int64(b.MaxFrameSize) || n > 1<<40 {
			p.errKey(sec, "max_connection_bytes", "%q: want a size from max_frame_size (%d) up", v, b.MaxFrameSize)
		} else {
			b.MaxConnectionBytes = n
		}
	}
	if v, ok := get("frame_timeout"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			p.errKey(sec, "frame_timeout", "%q: want a positive duration such as 60s", v)
		} else {
			b.FrameTimeout = d
		}
	}
	if v, ok := get("idle_timeout"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			p.errKey(sec, "idle_timeout", "%q: want a duration such as 10m (0 disables)", v)
		} else {
			b.IdleTimeout = d
		}
	}
	if v, ok := get("allowed_peers"); ok && v != "" {
		for _, item := range strings.Split(v, ",") {
			pf, err := netip.ParsePrefix(strings.TrimSpace(item))
			if err != nil {
				p.errKey(sec, "allowed_peers", "%q: want CIDR prefixes such as 10.0.0.0/24, 127.0.0.1/32 (%v)", item, err)
				continue
			}
			b.AllowedPeers = append(b.AllowedPeers, pf.Masked())
		}
	}
}

var tableKeys = map[string]bool{
	"app_id": true, "source_table": true, "follower_cluster": true, "follower_table": true,
	"follower_partition_count": true, "advertised_partition_count": true, "failure_policy": true,
	"skip_after_attempts": true, "allowed_cluster_ids": true, "master_cluster": true, "paused": true,
	"verify_timetag": true,
}

func (p *parser) tables(c *Config) {
	usedIDs := map[int32]string{}
	targets := map[[2]string]*Table{} // follower cluster and table → the first section forwarding there
	for _, s := range p.f.sections {
		if !strings.HasPrefix(s.name, SectionTablePrefix) {
			continue
		}
		sec := s.name
		t := Table{Name: strings.TrimPrefix(sec, SectionTablePrefix), Line: s.line}
		if !validTableName(t.Name) {
			p.errSection(sec, "table name %q: want letters, digits, '_', '.', '-' (Pegasus app names)", t.Name)
		}
		get := p.keys(s, sec, tableAndAckKeys)

		t.AppID = int32(len(c.Tables) + 1)
		_, explicit := get("app_id")
		if v, ok := get("app_id"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1<<30 {
				p.errKey(sec, "app_id", "%q: want a positive integer", v)
			} else {
				t.AppID = int32(n)
			}
		}
		if other, dup := usedIDs[t.AppID]; dup {
			line := p.f.byName[other].keyLine("app_id")
			if explicit {
				p.errKey(sec, "app_id", "app id %d is also the app id of [%s] (line %d): each table needs its own", t.AppID, other, line)
			} else {
				p.errKey(sec, "app_id", "the default app id %d (the table's position) is taken by [%s] (line %d): set app_id", t.AppID, other, line)
			}
		}
		usedIDs[t.AppID] = sec

		t.SourceTable, t.FollowerTable = t.Name, t.Name
		if v, ok := get("source_table"); ok && v != "" {
			if !validTableName(v) {
				p.errKey(sec, "source_table", "%q: not a valid table name", v)
			}
			t.SourceTable = v
		}
		if v, ok := get("follower_table"); ok && v != "" {
			if !validTableName(v) {
				p.errKey(sec, "follower_table", "%q: not a valid table name", v)
			}
			t.FollowerTable = v
		}
		if v, ok := get("follower_cluster"); (!ok || v == "") && c.Bridge.Role == RoleEdge {
			// an edge's sink knows the follower
		} else if !ok || v == "" {
			p.errKey(sec, "follower_cluster", "required: a cluster of [%s]", SectionClusters)
		} else if _, known := c.Clusters[v]; !known {
			p.errKey(sec, "follower_cluster", "%q is not in [%s]", v, SectionClusters)
		} else {
			t.FollowerCluster = v
		}
		t.FollowerPartitionCount = p.partitionCount(s, sec, "follower_partition_count")
		t.AdvertisedPartitionCount = p.partitionCount(s, sec, "advertised_partition_count")

		pv, hasPolicy := get("failure_policy")
		if fp, err := ParseFailurePolicy(pv); err != nil {
			p.errKey(sec, "failure_policy", "%q: want slow or skip", pv)
		} else {
			t.FailurePolicy = fp
		}
		_ = hasPolicy
		if v, ok := get("skip_after_attempts"); ok {
			n, err := strconv.Atoi(v)
			switch {
			case err != nil || n < 1:
				p.errKey(sec, "skip_after_attempts", "%q: want a positive integer", v)
			case t.FailurePolicy != PolicySkip:
				p.errKey(sec, "skip_after_attempts", "only meaningful with failure_policy = skip")
			default:
				t.SkipAfterAttempts = n
			}
		} else if t.FailurePolicy == PolicySkip {
			p.errKey(sec, "failure_policy", "skip needs skip_after_attempts = N")
		}

		allowed, hasAllowed := get("allowed_cluster_ids")
		master, hasMaster := get("master_cluster")
		if hasAllowed && hasMaster && allowed != "" && master != "" {
			p.errKey(sec, "master_cluster", "set either master_cluster or allowed_cluster_ids, not both")
		}
		own := int8(-1)
		if id, ok := c.ClusterIDs[c.Bridge.ClusterName]; ok && c.Bridge.ClusterName != "" {
			own = id
		}
		if hasAllowed && allowed != "" {
			for _, item := range strings.Split(allowed, ",") {
				item = strings.TrimSpace(item)
				if item == "" {
					continue
				}
				id, err := p.clusterID(c, item)
				if err != nil {
					p.errKey(sec, "allowed_cluster_ids", "%q: %v", item, err)
					continue
				}
				if id == own {
					p.errKey(sec, "allowed_cluster_ids", "%q is the bridge's own cluster id (self-duplication, duplication.md §4.2)", item)
					continue
				}
				t.AllowedClusterIDs = append(t.AllowedClusterIDs, id)
			}
		}
		if hasMaster && master != "" {
			id, ok := c.ClusterIDs[master]
			switch {
			case !ok:
				p.errKey(sec, "master_cluster", "%q is not in [%s]", master, SectionGroup)
			case id == own:
				p.errKey(sec, "master_cluster", "%q is the bridge's own cluster (self-duplication)", master)
			default:
				t.MasterCluster = master
				t.AllowedClusterIDs = []int8{id}
			}
		}
		if v, ok := get("paused"); ok {
			bv, err := parseBool(v)
			if err != nil {
				p.errKey(sec, "paused", "%q: want true or false", v)
			}
			t.Paused = bv
		}
		if v, ok := get("verify_timetag"); ok {
			bv, err := parseBool(v)
			if err != nil {
				p.errKey(sec, "verify_timetag", "%q: want true or false", v)
			}
			t.VerifyTimetag = bv
		}
		p.sameFollowerTable(targets, t)
		p.tableAck(get, sec, &t, c)
		c.Tables = append(c.Tables, t)
	}
	if len(c.Tables) == 0 {
		p.add(Problem{Msg: "no [table.NAME] section: nothing to duplicate"})
	}
}

// sameFollowerTable reports t when an earlier section forwards into the
// same follower table: typically a section copied and renamed. Two sections
// would keep two independent per-key orders (keyorder is per table), so
// writes of one key through both could overtake each other.
func (p *parser) sameFollowerTable(targets map[[2]string]*Table, t Table) {
	if t.FollowerCluster == "" {
		return
	}
	k := [2]string{t.FollowerCluster, t.FollowerTable}
	o := targets[k]
	if o == nil {
		targets[k] = &t
		return
	}
	p.errSection(SectionTablePrefix+t.Name, "forwards into follower table %s/%s like [%s%s] (line %d): "+
		"a copied section? one [table.NAME] per follower table (list several masters in allowed_cluster_ids)",
		t.FollowerCluster, t.FollowerTable, SectionTablePrefix, o.Name, o.Line)
}

// keys reports every key of section s that known lacks, and returns the
// section's getter: a key's trimmed value, and whether it is there.
func (p *parser) keys(s *iniSection, sec string, known map[string]bool) func(key string) (string, bool) {
	for _, k := range s.keys {
		if !known[k.name] {
			p.errKey(sec, k.name, "unknown key")
		}
	}
	return s.get
}

// hostPort reads a required host:port key; required is the message when
// it is missing.
func (p *parser) hostPort(sec, key string, get func(string) (string, bool), required string) string {
	v, ok := get(key)
	switch {
	case !ok || v == "":
		p.errKey(sec, key, "%s", required)
	case checkHostPort(v) != nil:
		p.errKey(sec, key, "%q: %v", v, checkHostPort(v))
	default:
		return v
	}
	return ""
}

func (p *parser) partitionCount(s *iniSection, sec, key string) int {
	v, ok := s.get(key)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1<<16 || n&(n-1) != 0 {
		p.errKey(sec, key, "%q: want 0 (none) or a power of two up to 65536 (wire.md §6.2)", v)
		return 0
	}
	return n
}

// clusterID resolves an allowed_cluster_ids item: a [duplication-group]
// name or a configured id.
func (p *parser) clusterID(c *Config, item string) (int8, error) {
	if id, ok := c.ClusterIDs[item]; ok {
		return id, nil
	}
	n, err := strconv.Atoi(item)
	if err != nil {
		return 0, fmt.Errorf("not a cluster of [%s]", SectionGroup)
	}
	if n < 1 || n > 127 {
		return 0, fmt.Errorf("cluster ids are 1..127")
	}
	for _, v := range c.ClusterIDs {
		if int(v) == n {
			return int8(n), nil
		}
	}
	return 0, fmt.Errorf("id %d is not in [%s]", n, SectionGroup)
}

// ParseSize parses a byte size: a plain integer or one with a KiB/MiB/GiB
// (or K/M/G, KB/MB/GB, all binary) suffix.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	up := strings.ToUpper(s)
	for _, suf := range []struct {
		s string
		m int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(up, suf.s) {
			mult = suf.m
			s = strings.TrimSpace(s[:len(s)-len(suf.s)])
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	if n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q out of range", s)
	}
	return n * mult, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("not a bool: %q", s)
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	if host != "" && !validHostName(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("bad host %q", host)
		}
	}
	return nil
}

func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

func validTableName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}
