package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// SectionMetaProxy is the meta-proxy's section. A file with only this
// section configures a meta-proxy alone; beside the bridge's sections it
// adds a meta-proxy to the bridge's process (docs/metaproxy.md).
const SectionMetaProxy = "meta-proxy"

// Meta-proxy defaults (the existing pegasus-kv/meta-proxy's example uses a
// 1,024-table watcher cache).
const (
	DefaultProxySessionTimeout = 10 * time.Second
	DefaultProxyCacheTables    = 1024
	DefaultProxyRoot           = "/pegasus-cluster"
)

// MetaProxy is the [meta-proxy] section.
type MetaProxy struct {
	// Listen is the RPC address clients use as their meta server list.
	Listen string
	// AdvertisedAddr is the IPv4 from_address of RDSN responses: Listen
	// when that is a concrete IPv4 address, else unset (0 on the wire,
	// which peers tolerate, wire.md §1.5).
	AdvertisedAddr netip.AddrPort
	// HTTPListen serves /status and /metrics of the proxy; empty = none
	// (beside a bridge they join the bridge's HTTP instead).
	HTTPListen string
	// ZK are the ZooKeeper servers (host:port).
	ZK []string
	// Root is the ZooKeeper path holding one node per table.
	Root string
	// SessionTimeout is the ZooKeeper session timeout.
	SessionTimeout time.Duration
	// CacheTables bounds the tables cached (and watched) at once.
	CacheTables int
	// EventLoops is the number of gnet event loops; 0 = one per CPU.
	EventLoops int
}

var metaProxyKeys = map[string]bool{
	"listen": true, "http_listen": true, "zk": true, "root": true, "session_timeout": true,
	"cache_tables": true, "event_loops": true,
}

// bridgeSections reports whether the file has any of the bridge's sections.
func (p *parser) bridgeSections() bool {
	for _, s := range p.f.sections {
		n := s.name
		if n == SectionClusters || n == SectionGroup || n == SectionBridge || strings.HasPrefix(n, SectionTablePrefix) {
			return true
		}
	}
	return false
}

func (p *parser) metaProxy(c *Config) {
	s := p.f.byName[SectionMetaProxy]
	if s == nil {
		return
	}
	const sec = SectionMetaProxy
	m := &MetaProxy{Root: DefaultProxyRoot, SessionTimeout: DefaultProxySessionTimeout, CacheTables: DefaultProxyCacheTables}
	c.MetaProxy = m
	get := p.keys(s, sec, metaProxyKeys)
	m.Listen = p.hostPort(sec, "listen", get, "required: the address clients use as their meta server (host:port)")
	if ap, err := netip.ParseAddrPort(m.Listen); err == nil && ap.Addr().Unmap().Is4() && !ap.Addr().IsUnspecified() && ap.Port() != 0 {
		m.AdvertisedAddr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if v, ok := get("http_listen"); ok && v != "" {
		if err := checkHostPort(v); err != nil {
			p.errKey(sec, "http_listen", "%q: %v", v, err)
		} else {
			m.HTTPListen = v
		}
	}
	if v, ok := get("zk"); !ok || v == "" {
		p.errKey(sec, "zk", "required: the ZooKeeper servers, host:port,host:port")
	} else {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			if err := checkHostPort(a); err != nil {
				p.errKey(sec, "zk", "%q: %v", a, err)
				continue
			}
			m.ZK = append(m.ZK, a)
		}
	}
	if v, ok := get("root"); ok && v != "" {
		if !validZKPath(v) {
			p.errKey(sec, "root", "%q: want an absolute ZooKeeper path such as /pegasus-cluster (no trailing '/')", v)
		} else {
			m.Root = v
		}
	}
	if v, ok := get("session_timeout"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond || d > 10*time.Minute {
			p.errKey(sec, "session_timeout", "%q: want a duration from 100ms to 10m such as 10s", v)
		} else {
			m.SessionTimeout = d
		}
	}
	if v, ok := get("cache_tables"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1<<20 {
			p.errKey(sec, "cache_tables", "%q: want 1 to 1048576 tables", v)
		} else {
			m.CacheTables = n
		}
	}
	if v, ok := get("event_loops"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1024 {
			p.errKey(sec, "event_loops", "%q: want 0 (one per CPU) to 1024", v)
		} else {
			m.EventLoops = n
		}
	}
}

// validZKPath accepts "/a/b": absolute, no empty, "." or ".." element, no
// trailing slash (ZooKeeper's own path rules, minus the character classes).
func validZKPath(p string) bool {
	if len(p) < 2 || p[0] != '/' || strings.HasSuffix(p, "/") || strings.ContainsRune(p, 0) {
		return false
	}
	for _, el := range strings.Split(p[1:], "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}

// ValidTableName reports whether s is a usable Pegasus table (app) name:
// letters, digits, '_', '.', '-'. It is also a valid ZooKeeper node name.
func ValidTableName(s string) bool { return validTableName(s) }
