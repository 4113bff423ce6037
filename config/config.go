// Package config reads dupbridge's INI file: the sections Pegasus operators
// already write ([pegasus.clusters], [duplication-group]; duplication.md §5)
// plus [dupbridge] and one [table.NAME] section per duplicated table, and
// the meta-proxy's [meta-proxy] (alone in a file, or beside the others).
//
// Parse collects every problem of a file, each with the line it is on, so
// that `dupbridge serve --check` can explain them all at once.
package config

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultMaxInflightBytes = 256 << 20
	DefaultMaxFrameSize     = 16 << 20
	DefaultShutdownTimeout  = 30 * time.Second
	// DefaultLaggingWriteThreshold is the lag above which a received entry
	// counts in dup_lagging_writes (Pegasus's follower uses
	// dup_lagging_write_threshold_ms, duplication.md §6.1).
	DefaultLaggingWriteThreshold = 10 * time.Second
	// DefaultReadyFollowerTimeout: /readyz fails for a table whose follower
	// has been unreachable this long (a master's duplication retries far
	// longer, so this only tells the operator early).
	DefaultReadyFollowerTimeout = 30 * time.Second
	// DefaultReadyLagThreshold: /readyz fails while the oldest request not
	// yet acknowledged to a master is older than this.
	DefaultReadyLagThreshold = 60 * time.Second
	// DefaultCheckpointCopyParallel is checkpoint_copy_parallel's default.
	DefaultCheckpointCopyParallel = 4
	// FollowerWriteLimit is the follower's [replication]
	// max_allowed_write_size default (duplication.md §4.1, §5).
	FollowerWriteLimit = 1 << 20
	// Connection limits of the RPC port (issue 8). A master replica server
	// keeps a few connections to its follower; tools add one each.
	DefaultMaxConnections        = 4096
	DefaultMaxConnectionsPerPeer = 128
	DefaultFrameTimeout          = 60 * time.Second
	DefaultIdleTimeout           = 10 * time.Minute
)

// DefaultStateDir is where durable state goes unless state_dir says otherwise
// (the systemd unit's StateDirectory).
const DefaultStateDir = "/var/lib/dupbridge"

// Config is a validated configuration file.
type Config struct {
	// File is the path the configuration was read from (for messages).
	File string
	// Clusters is [pegasus.clusters]: follower cluster name → meta addresses
	// (host:port), in file order.
	Clusters map[string][]string
	// ClusterIDs is [duplication-group]: cluster name → id 1..127.
	ClusterIDs map[string]int8
	// Bridge is [dupbridge].
	Bridge Bridge
	// Tables are the [table.NAME] sections in file order.
	Tables []Table
	// MetaProxy is the [meta-proxy] section, nil when absent.
	MetaProxy *MetaProxy
}

// HasBridge reports whether the file configures a bridge (it has tables);
// a file with only [meta-proxy] does not.
func (c *Config) HasBridge() bool { return len(c.Tables) > 0 }

// FullDuplication says what the meta face does with a create_app that a
// master sends for a full (checkpoint) duplication (duplication.md §1.6).
type FullDuplication uint8

const (
	// FullDupLoad (the default) runs the creating/created protocol, creates
	// the follower table, copies the master's checkpoint and loads it into
	// the follower table before it answers "created" (package checkpoint).
	FullDupLoad FullDuplication = iota
	// FullDupReject answers ERR_OPERATION_DISABLED.
	FullDupReject
	// FullDupWithoutCheckpoint runs the creating/created protocol and creates
	// the follower table, but copies no checkpoint: the operator vouches that
	// the follower already holds the base data.
	FullDupWithoutCheckpoint
)

func (f FullDuplication) String() string {
	switch f {
	case FullDupWithoutCheckpoint:
		return "without_checkpoint"
	case FullDupReject:
		return "reject"
	}
	return "load"
}

// Bridge is the [dupbridge] section.
type Bridge struct {
	// Listen is the RPC listen address (host:port) for both faces.
	Listen string
	// AdvertisedAddr is the IPv4 ip:port given to masters as every primary
	// (rpc_address is IPv4 only, wire.md §1.5). Defaults to Listen when that
	// is a concrete IPv4 address.
	AdvertisedAddr netip.AddrPort
	// AdvertisedHost is the host name put in the hp_* fields (wire.md §4.1);
	// defaults to the advertised IP in dotted form.
	AdvertisedHost string
	// HTTPListen is the status HTTP address; empty disables it.
	HTTPListen string
	// AdminToken, when set, is the bearer token every mutating admin HTTP
	// call must carry (Authorization: Bearer TOKEN).
	AdminToken string
	// AdminInsecure allows a non-loopback HTTPListen without AdminToken:
	// the operator vouches that the network is private.
	AdminInsecure bool
	// ReadyFollowerTimeout and ReadyLagThreshold are when /readyz fails:
	// a follower unreachable that long, or the oldest unacknowledged
	// request that old.
	ReadyFollowerTimeout time.Duration
	ReadyLagThreshold    time.Duration
	// MaxInflightBytes caps bytes held for requests not yet acknowledged.
	MaxInflightBytes int64
	// MaxFrameSize bounds one incoming frame (header + body).
	MaxFrameSize int
	// SendHostPort adds the hp_* fields to partition configurations; turn it
	// off for peers older than Pegasus 2.6 (wire.md §4.1).
	SendHostPort bool
	// LegacyPeers are the masters (IPv4 prefixes; a bare address is a /32)
	// that run Pegasus 2.5 or older: they get no hp_* fields whatever
	// SendHostPort says. No request field tells a peer's version (wire.md
	// §4.1), so a mixed fleet is told apart by address.
	LegacyPeers []netip.Prefix
	// ClusterName is the bridge's own cluster name as masters know it (their
	// [pegasus.clusters] key), if any; its id is never accepted in entries.
	ClusterName string
	// ShutdownTimeout bounds the wait for in-flight acknowledgements.
	ShutdownTimeout time.Duration
	// EventLoops is the number of gnet event loops; 0 = one per CPU.
	EventLoops int
	// FullDuplication: see FullDuplication.
	FullDuplication FullDuplication
	// LaggingWriteThreshold: a received entry whose lag (bridge now minus
	// the entry's master timestamp) exceeds it counts in dup_lagging_writes.
	LaggingWriteThreshold time.Duration
	// MaxConnections caps the RPC port's open connections; the server also
	// keeps it below the process's descriptor limit (RLIMIT_NOFILE).
	MaxConnections int
	// MaxConnectionsPerPeer caps open connections from one peer IP.
	MaxConnectionsPerPeer int
	// MaxConnectionBytes caps what one connection may hold undecoded, and
	// its admitted requests in flight. Default 2 × MaxFrameSize.
	MaxConnectionBytes int64
	// FrameTimeout: a frame must arrive whole this long after its first
	// byte, or its connection is closed.
	FrameTimeout time.Duration
	// IdleTimeout closes a connection with nothing in flight and no
	// traffic for this long; 0 never does.
	IdleTimeout time.Duration
	// AllowedPeers, when not empty, are the only addresses (prefixes) that
	// may connect to the RPC port; others are closed at accept.
	AllowedPeers []netip.Prefix
	// CheckpointCopyRate caps the bytes per second a checkpoint copy
	// (full_duplication = load) reads from a master; 0 = unlimited.
	// CheckpointCopyParallel is how many files it copies at once.
	CheckpointCopyRate     int64
	CheckpointCopyParallel int
	// CheckpointLoadRate caps the keys per second a checkpoint load writes
	// to the follower; 0 = unlimited.
	CheckpointLoadRate float64
	// StateDir holds the bridge's durable state: the edge's spool, persisted
	// table controls (pause, remove, fail mode) and create/load progress of
	// full duplication. Created (0700) on start if missing.
	StateDir string
	// Role is direct, edge or sink; Relay configures the WAN link between
	// edge and sink (docs/relay.md §3).
	Role  Role
	Relay Relay
	// HTTPTLSCert and HTTPTLSKey (PEM files), when set, make http_listen
	// serve HTTPS.
	HTTPTLSCert, HTTPTLSKey string
	// Log is where and how serve logs.
	Log Log
}

// Log configures serve's logger.
type Log struct {
	// Level: debug, info, warn or error (changeable at run time: ctl
	// log-level).
	Level string
	// Format: json or console.
	Format string
	// File, when set, receives the log instead of stderr, rotated at
	// MaxSizeMB, keeping MaxBackups old files for MaxAgeDays (0: forever).
	File       string
	MaxSizeMB  int
	MaxBackups int
	MaxAgeDays int
}

// Log defaults.
const (
	DefaultLogLevel      = "info"
	DefaultLogFormat     = "json"
	DefaultLogMaxSizeMB  = 100
	DefaultLogMaxBackups = 10
)

// FailurePolicy is what happens when a follower keeps failing a part.
type FailurePolicy uint8

const (
	// PolicySlow retries forever; the master waits (its plog grows).
	PolicySlow FailurePolicy = iota
	// PolicySkip drops a part after SkipAfterAttempts failed attempts and
	// acknowledges the master (data loss, counted).
	PolicySkip
)

func (p FailurePolicy) String() string {
	if p == PolicySkip {
		return "skip"
	}
	return "slow"
}

// ParseFailurePolicy parses "slow" (or "") and "skip".
func ParseFailurePolicy(s string) (FailurePolicy, error) {
	switch s {
	case "", "slow":
		return PolicySlow, nil
	case "skip":
		return PolicySkip, nil
	}
	return PolicySlow, fmt.Errorf("failure policy %q: want slow or skip", s)
}

// Table is one [table.NAME] section.
type Table struct {
	// Name is the table name masters use (their remote_app_name): the
	// section name after "table.".
	Name string
	// Line is the section header's line.
	Line int
	// AppID is the app id the bridge advertises for Name; stable while the
	// file is (default: 1-based position among the tables).
	AppID int32
	// SourceTable is the master's table name (default Name).
	SourceTable string
	// FollowerCluster is a key of Clusters.
	FollowerCluster string
	// FollowerTable is the table on the follower (default Name).
	FollowerTable string
	// FollowerPartitionCount is the count to create the follower table with
	// if it does not exist; 0 = never create it.
	FollowerPartitionCount int
	// AdvertisedPartitionCount is the partition count answered to masters;
	// 0 = the follower's (or the master's, for a table created by create_app).
	AdvertisedPartitionCount int
	// FailurePolicy and SkipAfterAttempts (> 0 with PolicySkip).
	FailurePolicy     FailurePolicy
	SkipAfterAttempts int
	// AllowedClusterIDs are the cluster ids accepted in entries; empty means
	// every [duplication-group] id except the bridge's own.
	AllowedClusterIDs []int8
	// MasterCluster, when set, is the one cluster allowed (its id only).
	MasterCluster string
	// Paused answers masters with a retryable error and ships nothing.
	Paused bool
	// VerifyTimetag sets verify_timetag on every PUT and MULTI_PUT entry
	// forwarded, so that the follower itself keeps the newer of two writes
	// of a key (timestamp, then cluster id; duplication.md §4.4) even when
	// they reach it out of order across bridge restarts or from several
	// bridges. The follower then reads before each such write; deletes
	// are not covered (they store no timetag).
	VerifyTimetag bool
	// Ack is when an edge answers the master (spool: after the fsync;
	// follower: after the sink's ack).
	Ack AckPolicy
}

// Allows reports whether entries carrying cluster id id are accepted for t:
// the id must be configured in [duplication-group], must not be the bridge's
// own, and must be in t's allowed list when there is one
// (duplication.md §4.2 items 1-2).
func (c *Config) Allows(t *Table, id int8) bool {
	if id <= 0 {
		return false
	}
	if c.Bridge.ClusterName != "" && c.ClusterIDs[c.Bridge.ClusterName] == id {
		return false
	}
	if len(t.AllowedClusterIDs) > 0 {
		for _, a := range t.AllowedClusterIDs {
			if a == id {
				return true
			}
		}
		return false
	}
	for _, v := range c.ClusterIDs {
		if v == id {
			return true
		}
	}
	return false
}

// Table returns the table masters call name, or nil.
func (c *Config) Table(name string) *Table {
	for i := range c.Tables {
		if c.Tables[i].Name == name {
			return &c.Tables[i]
		}
	}
	return nil
}

// ErrInvalid is wrapped by every *Error.
var ErrInvalid = errors.New("config: invalid")

// Problem is one error in a file.
type Problem struct {
	Line    int // 1-based; 0 when not tied to a line
	Section string
	Key     string
	Msg     string
}

// String is the problem for a terminal: bytes of the file that are not
// printable are escaped (a binary file must not reach the terminal raw).
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Section != "" {
		fmt.Fprintf(&b, "[%s] ", p.Section)
	}
	if p.Key != "" {
		fmt.Fprintf(&b, "%s: ", p.Key)
	}
	b.WriteString(p.Msg)
	return printable(b.String())
}

// Error lists every problem found in a file.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config: %s: %d problem(s)", printable(e.File), len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		if e.File != "" {
			b.WriteString(printable(e.File) + ":")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return ErrInvalid }

// Load reads and validates the file at path.
func Load(path string) (*Config, error) { return LoadContext(context.Background(), path) }

// LoadContext is Load that gives up when ctx ends.
func LoadContext(ctx context.Context, path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	return ParseContext(ctx, data, path)
}
