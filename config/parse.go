package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// Section names.
const (
	SectionClusters    = "pegasus.clusters"
	SectionGroup       = "duplication-group"
	SectionBridge      = "dupbridge"
	SectionTablePrefix = "table."
)

// lineIndex finds the line of a section header or key in the file text,
// since ini.v1 does not report lines.
type lineIndex struct {
	sections map[string]int
	keys     map[string]int // section + "\x00" + key
}

func indexLines(data []byte) lineIndex {
	li := lineIndex{sections: map[string]int{}, keys: map[string]int{}}
	sec := ini.DefaultSection
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		s := strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if s == "" || s[0] == ';' || s[0] == '#' {
			continue
		}
		if s[0] == '[' {
			if end := strings.IndexByte(s, ']'); end > 0 {
				sec = strings.TrimSpace(s[1:end])
				if _, ok := li.sections[sec]; !ok {
					li.sections[sec] = n
				}
			}
			continue
		}
		if j := strings.IndexAny(s, "=:"); j > 0 {
			k := sec + "\x00" + strings.TrimSpace(s[:j])
			if _, ok := li.keys[k]; !ok {
				li.keys[k] = n
			}
		}
	}
	return li
}

func (li lineIndex) key(section, key string) int {
	if n, ok := li.keys[section+"\x00"+key]; ok {
		return n
	}
	return li.sections[section]
}

type parser struct {
	li       lineIndex
	problems []Problem
	badRole  bool // [dupbridge] role is invalid (relay.go)
}

func (p *parser) errSection(section, format string, args ...any) {
	p.problems = append(p.problems, Problem{Line: p.li.sections[section], Section: section, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) errKey(section, key, format string, args ...any) {
	p.problems = append(p.problems, Problem{Line: p.li.key(section, key), Section: section, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Parse validates data (the text of a file called name) and returns the
// configuration, or an *Error listing every problem with its line.
func Parse(data []byte, name string) (*Config, error) {
	p := &parser{li: indexLines(data)}
	f, err := ini.LoadSources(ini.LoadOptions{}, data)
	if err != nil {
		return nil, &Error{File: name, Problems: []Problem{{Msg: "not a valid INI file: " + err.Error()}}}
	}
	c := &Config{File: name, Clusters: map[string][]string{}, ClusterIDs: map[string]int8{}}

	for _, s := range f.Sections() {
		n := s.Name()
		switch {
		case n == ini.DefaultSection:
			for _, k := range s.Keys() {
				p.errKey(n, k.Name(), "key outside any section")
			}
		case n == SectionClusters, n == SectionGroup, n == SectionBridge:
		case strings.HasPrefix(n, SectionTablePrefix):
		default:
			p.errSection(n, "unknown section (expected [%s], [%s], [%s] or [%sNAME])",
				SectionClusters, SectionGroup, SectionBridge, SectionTablePrefix)
		}
	}

	p.role(f, c)
	p.clusters(f, c)
	p.group(f, c)
	p.bridge(f, c)
	p.tables(f, c)

	if len(p.problems) > 0 {
		return nil, &Error{File: name, Problems: p.problems}
	}
	return c, nil
}

func (p *parser) clusters(f *ini.File, c *Config) {
	s, err := f.GetSection(SectionClusters)
	if (err != nil || len(s.Keys()) == 0) && c.Bridge.Role == RoleEdge {
		return // an edge ships to its sink, which knows the follower
	}
	if err != nil || len(s.Keys()) == 0 {
		p.problems = append(p.problems, Problem{Line: p.li.sections[SectionClusters], Section: SectionClusters,
			Msg: "missing or empty: list each follower cluster as NAME = host:port,host:port (its meta servers)"})
		return
	}
	for _, k := range s.Keys() {
		var addrs []string
		ok := true
		for _, a := range strings.Split(k.Value(), ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			if err := checkHostPort(a); err != nil {
				p.errKey(SectionClusters, k.Name(), "meta address %q: %v", a, err)
				ok = false
				continue
			}
			addrs = append(addrs, a)
		}
		if len(addrs) == 0 && ok {
			p.errKey(SectionClusters, k.Name(), "no meta address")
		}
		c.Clusters[k.Name()] = addrs
	}
}

func (p *parser) group(f *ini.File, c *Config) {
	s, err := f.GetSection(SectionGroup)
	if err != nil || len(s.Keys()) == 0 {
		p.problems = append(p.problems, Problem{Line: p.li.sections[SectionGroup], Section: SectionGroup,
			Msg: "missing or empty: list the master cluster ids as NAME = 1..127, as in Pegasus (duplication.md §5)"})
		return
	}
	byID := map[int8]string{}
	for _, k := range s.Keys() {
		v, err := strconv.Atoi(strings.TrimSpace(k.Value()))
		if err != nil || v < 1 || v > 127 {
			p.errKey(SectionGroup, k.Name(), "cluster id %q: want an integer 1..127", k.Value())
			continue
		}
		id := int8(v)
		if other, dup := byID[id]; dup {
			p.errKey(SectionGroup, k.Name(), "cluster id %d already used by %q (ids must be unique)", id, other)
			continue
		}
		byID[id] = k.Name()
		c.ClusterIDs[k.Name()] = id
	}
}

var bridgeKeys = map[string]bool{
	"listen": true, "advertised_address": true, "advertised_host": true, "http_listen": true,
	"max_inflight_bytes": true, "max_frame_size": true, "send_host_port": true, "legacy_peers": true, "cluster_name": true,
	"shutdown_timeout": true, "event_loops": true, "full_duplication": true,
	"lagging_write_threshold": true, "state_dir": true,
}

func (p *parser) bridge(f *ini.File, c *Config) {
	b := &c.Bridge
	b.MaxInflightBytes = DefaultMaxInflightBytes
	b.MaxFrameSize = DefaultMaxFrameSize
	b.SendHostPort = true
	b.ShutdownTimeout = DefaultShutdownTimeout
	b.LaggingWriteThreshold = DefaultLaggingWriteThreshold
	b.StateDir = DefaultStateDir
	s, err := f.GetSection(SectionBridge)
	if err != nil {
		p.problems = append(p.problems, Problem{Section: SectionBridge, Msg: "missing section (needs at least listen and advertised_address)"})
		return
	}
	const sec = SectionBridge
	for _, k := range s.Keys() {
		if !bridgeKeys[k.Name()] && !relayKeys[k.Name()] {
			p.errKey(sec, k.Name(), "unknown key")
		}
	}
	get := func(key string) (string, bool) {
		if !s.HasKey(key) {
			return "", false
		}
		return strings.TrimSpace(s.Key(key).Value()), true
	}

	if v, ok := get("listen"); !ok || v == "" {
		if c.Bridge.Role != RoleSink { // a sink faces edges only (relay_listen)
			p.errKey(sec, "listen", "required: the RPC listen address host:port")
		}
	} else if err := checkHostPort(v); err != nil {
		p.errKey(sec, "listen", "%q: %v", v, err)
	} else {
		b.Listen = v
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

	if v, ok := get("http_listen"); ok && v != "" {
		if err := checkHostPort(v); err != nil {
			p.errKey(sec, "http_listen", "%q: %v", v, err)
		} else {
			b.HTTPListen = v
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
	if v, ok := get("event_loops"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1024 {
			p.errKey(sec, "event_loops", "%q: want 0 (one per CPU) to 1024", v)
		} else {
			b.EventLoops = n
		}
	}
	if v, ok := get("full_duplication"); ok {
		switch v {
		case "reject":
			b.FullDuplication = FullDupReject
		case "without_checkpoint":
			b.FullDuplication = FullDupWithoutCheckpoint
		default:
			p.errKey(sec, "full_duplication", "%q: want reject or without_checkpoint", v)
		}
	}
	p.relay(s, c)
}

var tableKeys = map[string]bool{
	"app_id": true, "source_table": true, "follower_cluster": true, "follower_table": true,
	"follower_partition_count": true, "advertised_partition_count": true, "failure_policy": true,
	"skip_after_attempts": true, "allowed_cluster_ids": true, "master_cluster": true, "paused": true,
	"verify_timetag": true,
}

func (p *parser) tables(f *ini.File, c *Config) {
	usedIDs := map[int32]string{}
	for _, s := range f.Sections() {
		if !strings.HasPrefix(s.Name(), SectionTablePrefix) {
			continue
		}
		sec := s.Name()
		t := Table{Name: strings.TrimPrefix(sec, SectionTablePrefix), Line: p.li.sections[sec]}
		if !validTableName(t.Name) {
			p.errSection(sec, "table name %q: want letters, digits, '_', '.', '-' (Pegasus app names)", t.Name)
		}
		for _, k := range s.Keys() {
			if !tableKeys[k.Name()] && k.Name() != "ack" {
				p.errKey(sec, k.Name(), "unknown key")
			}
		}
		get := func(key string) (string, bool) {
			if !s.HasKey(key) {
				return "", false
			}
			return strings.TrimSpace(s.Key(key).Value()), true
		}

		t.AppID = int32(len(c.Tables) + 1)
		if v, ok := get("app_id"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1<<30 {
				p.errKey(sec, "app_id", "%q: want a positive integer", v)
			} else {
				t.AppID = int32(n)
			}
		}
		if other, dup := usedIDs[t.AppID]; dup {
			p.errKey(sec, "app_id", "app id %d already used by [%s] (set app_id explicitly)", t.AppID, other)
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
		switch pv {
		case "", "slow":
			t.FailurePolicy = PolicySlow
		case "skip":
			t.FailurePolicy = PolicySkip
		default:
			p.errKey(sec, "failure_policy", "%q: want slow or skip", pv)
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
		p.tableAck(s, sec, &t, c)
		c.Tables = append(c.Tables, t)
	}
	if len(c.Tables) == 0 {
		p.problems = append(p.problems, Problem{Msg: "no [table.NAME] section: nothing to duplicate"})
	}
}

func (p *parser) partitionCount(s *ini.Section, sec, key string) int {
	if !s.HasKey(key) {
		return 0
	}
	v := strings.TrimSpace(s.Key(key).Value())
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
