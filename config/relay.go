package config

import (
	"strconv"
	"time"
)

// Role is what a dupbridge process is on the WAN link (docs/relay.md §3).
type Role uint8

const (
	// RoleDirect is the single bridge beside the follower.
	RoleDirect Role = iota
	// RoleEdge runs in the master's datacenter: masters' follower endpoint,
	// spool, shipper to the sink.
	RoleEdge
	// RoleSink runs in the follower's datacenter: accepts edges, routes to
	// the follower.
	RoleSink
)

func (r Role) String() string {
	switch r {
	case RoleEdge:
		return "edge"
	case RoleSink:
		return "sink"
	}
	return "direct"
}

// AckPolicy is when an edge answers the master (docs/relay.md §2.8).
type AckPolicy uint8

const (
	// AckSpool answers after the entries are fsynced in the spool.
	AckSpool AckPolicy = iota
	// AckFollower answers after the sink reported the follower's ack.
	AckFollower
)

func (a AckPolicy) String() string {
	if a == AckFollower {
		return "follower"
	}
	return "spool"
}

// Relay defaults.
const (
	DefaultRelayZstdLevel       = 2
	DefaultRelayBatchBytes      = 1 << 20
	DefaultRelayLinger          = 5 * time.Millisecond
	DefaultRelayWindowBytes     = 32 << 20
	DefaultRelayWindowShipments = 64
	DefaultRelayMaxShipment     = 64 << 20
	DefaultSpoolBytes           = 1 << 30
	// MinRelayTokenLen keeps tokens out of guessing range.
	MinRelayTokenLen = 16
)

// Relay is the WAN link part of [dupbridge] (docs/relay.md §3).
type Relay struct {
	// Token is the shared secret both ends present (relay_token).
	Token string
	// TLSCert, TLSKey, TLSCA: PEM files. A sink serves TLS with its
	// certificate and key, and with a CA it requires client certificates
	// signed by it (mutual TLS). An edge verifies the sink against its CA and
	// presents its certificate and key when it has them (needed when the
	// sink requires them).
	TLSCert, TLSKey, TLSCA string
	// Sink is where an edge ships (relay_sink, host:port).
	Sink string
	// Listen is where a sink accepts edges (relay_listen, host:port).
	Listen string
	// ZstdLevel 1 (fastest) .. 4 (best); ZstdDict a dictionary file.
	ZstdLevel int
	ZstdDict  string
	// BatchBytes and Linger close a shipment (size or time).
	BatchBytes int
	Linger     time.Duration
	// WindowBytes and WindowShipments bound what is unacknowledged.
	WindowBytes     int64
	WindowShipments int
	// MaxShipment bounds a shipment's raw size (zip-bomb guard at the sink).
	MaxShipment int
	// SpoolBytes bounds each table's unacknowledged spool bytes (edge).
	SpoolBytes int64
}

// TLS reports whether the relay uses TLS.
func (r *Relay) TLS() bool { return r.TLSCert != "" || r.TLSCA != "" }

var relayKeys = map[string]bool{
	"role": true, "relay_token": true, "relay_tls_cert": true, "relay_tls_key": true, "relay_tls_ca": true,
	"relay_sink": true, "relay_listen": true, "relay_zstd_level": true, "relay_zstd_dict": true,
	"relay_batch_bytes": true, "relay_linger": true, "relay_window_bytes": true, "relay_window_shipments": true,
	"relay_max_shipment": true, "spool_bytes": true,
}

// The keys [dupbridge] and [table.NAME] accept with the relay's.
var (
	bridgeAndRelayKeys = joinKeys(bridgeKeys, relayKeys)
	tableAndAckKeys    = joinKeys(tableKeys, map[string]bool{"ack": true})
)

// role reads [dupbridge] role first: which other sections and keys are
// required depends on it.
func (p *parser) role(c *Config) {
	v, ok := p.f.byName[SectionBridge].get("role")
	if !ok {
		return
	}
	switch v {
	case "", "direct":
		c.Bridge.Role = RoleDirect
	case "edge":
		c.Bridge.Role = RoleEdge
	case "sink":
		c.Bridge.Role = RoleSink
	default:
		p.errKey(SectionBridge, "role", "%q: want direct, edge or sink", v)
		p.badRole = true
	}
}

// relay reads the relay_* keys and spool_bytes of [dupbridge] and checks
// them against the role.
func (p *parser) relay(bridgeGet func(string) (string, bool), c *Config) {
	const sec = SectionBridge
	r := &c.Bridge.Relay
	if p.badRole {
		return // which relay keys belong depends on the role
	}
	*r = Relay{ZstdLevel: DefaultRelayZstdLevel, BatchBytes: DefaultRelayBatchBytes, Linger: DefaultRelayLinger,
		WindowBytes: DefaultRelayWindowBytes, WindowShipments: DefaultRelayWindowShipments,
		MaxShipment: DefaultRelayMaxShipment, SpoolBytes: DefaultSpoolBytes}
	role := c.Bridge.Role
	get := func(key string) (string, bool) {
		v, ok := bridgeGet(key)
		if !ok {
			return "", false
		}
		if role == RoleDirect {
			p.errKey(sec, key, "only meaningful with role = edge or sink")
			return "", false
		}
		return v, true
	}
	need := func(key string, ok bool, why string) {
		if !ok {
			p.errKey(sec, key, "required with role = %s: %s", role, why)
		}
	}
	hostPort := func(key string, dst *string) bool {
		v, ok := get(key)
		if !ok || v == "" {
			return false
		}
		if err := checkHostPort(v); err != nil {
			p.errKey(sec, key, "%q: %v", v, err)
		}
		*dst = v
		return true
	}
	size := func(key string, lo, hi int64, dst *int64) {
		if v, ok := get(key); ok {
			n, err := ParseSize(v)
			if err != nil || n < lo || n > hi {
				p.errKey(sec, key, "%q: want a size from %d to %d bytes", v, lo, hi)
				return
			}
			*dst = n
		}
	}

	if v, ok := get("relay_token"); ok {
		if len(v) < MinRelayTokenLen {
			p.errKey(sec, "relay_token", "too short: use at least %d characters (the same on edge and sink)", MinRelayTokenLen)
		}
		r.Token = v
	} else if role != RoleDirect {
		need("relay_token", false, "the secret shared by edge and sink")
	}
	r.TLSCert, _ = get("relay_tls_cert")
	r.TLSKey, _ = get("relay_tls_key")
	r.TLSCA, _ = get("relay_tls_ca")
	switch {
	case (r.TLSCert == "") != (r.TLSKey == ""):
		p.errKey(sec, "relay_tls_cert", "set relay_tls_cert and relay_tls_key together, or neither")
	case role == RoleEdge && r.TLSCert != "" && r.TLSCA == "":
		p.errKey(sec, "relay_tls_ca", "required with relay_tls_cert at an edge: the CA that signed the sink's certificate")
	case role == RoleSink && r.TLSCA != "" && r.TLSCert == "":
		p.errKey(sec, "relay_tls_cert", "required with relay_tls_ca at a sink: TLS needs the sink's own certificate and key")
	}
	hasSink := hostPort("relay_sink", &r.Sink)
	hasListen := hostPort("relay_listen", &r.Listen)
	switch role {
	case RoleEdge:
		need("relay_sink", hasSink, "the sink's host:port")
		if hasListen {
			p.errKey(sec, "relay_listen", "only a sink listens for edges")
		}
	case RoleSink:
		need("relay_listen", hasListen, "where edges connect, host:port")
		if hasSink {
			p.errKey(sec, "relay_sink", "only an edge names a sink")
		}
	}
	intIn := func(key string, lo, hi int, want string, dst *int) {
		if v, ok := get(key); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				p.errKey(sec, key, "%q: want %s", v, want)
				return
			}
			*dst = n
		}
	}
	intIn("relay_zstd_level", 1, 4, "1 (fastest) to 4 (best)", &r.ZstdLevel)
	intIn("relay_window_shipments", 1, 1<<16, "1 to 65536", &r.WindowShipments)
	r.ZstdDict, _ = get("relay_zstd_dict")
	var batch, maxShip, windowBytes int64 = int64(r.BatchBytes), int64(r.MaxShipment), r.WindowBytes
	size("relay_batch_bytes", 1<<10, 64<<20, &batch)
	size("relay_max_shipment", 64<<10, 1<<30, &maxShip)
	size("relay_window_bytes", 64<<10, 1<<34, &windowBytes)
	size("spool_bytes", 1<<20, 1<<50, &r.SpoolBytes)
	r.BatchBytes, r.MaxShipment, r.WindowBytes = int(batch), int(maxShip), windowBytes
	if r.BatchBytes+FollowerWriteLimit > r.MaxShipment {
		p.errKey(sec, "relay_max_shipment", "%d is below relay_batch_bytes + one 1 MiB part (%d): a shipment could be refused", r.MaxShipment, r.BatchBytes+FollowerWriteLimit)
	}
	if v, ok := get("relay_linger"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			p.errKey(sec, "relay_linger", "%q: want a duration from 0 to 1m such as 5ms", v)
		} else {
			r.Linger = d
		}
	}
}

// tableAck reads a table's ack key (edge only).
func (p *parser) tableAck(get func(string) (string, bool), sec string, t *Table, c *Config) {
	v, ok := get("ack")
	if !ok {
		return
	}
	if c.Bridge.Role != RoleEdge {
		p.errKey(sec, "ack", "only an edge answers masters before the follower (role = edge)")
		return
	}
	switch v {
	case "", "spool":
		t.Ack = AckSpool
	case "follower":
		t.Ack = AckFollower
	default:
		p.errKey(sec, "ack", "%q: want spool or follower", v)
	}
}
