// Package config reads dupbridge's INI file: the sections Pegasus operators
// already write ([pegasus.clusters], [duplication-group]; duplication.md §5)
// plus [dupbridge] and one [table.NAME] section per duplicated table.
//
// Parse collects every problem of a file, each with the line it is on, so
// that `dupbridge serve --check` can explain them all at once.
package config

import (
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
	// FollowerWriteLimit is the follower's [replication]
	// max_allowed_write_size default (duplication.md §4.1, §5).
	FollowerWriteLimit = 1 << 20
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
}

// FullDuplication says what the meta face does with a create_app that a
// master sends for a full (checkpoint) duplication (duplication.md §1.6).
type FullDuplication uint8

const (
	// FullDupReject answers ERR_OPERATION_DISABLED: checkpoint loading is
	// not implemented yet.
	FullDupReject FullDuplication = iota
	// FullDupWithoutCheckpoint runs the creating/created protocol and creates
	// the follower table, but copies no checkpoint: the operator vouches that
	// the follower already holds the base data.
	FullDupWithoutCheckpoint
)

func (f FullDuplication) String() string {
	if f == FullDupWithoutCheckpoint {
		return "without_checkpoint"
	}
	return "reject"
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
	// StateDir holds the bridge's durable state: the edge's spool, persisted
	// table controls (pause, remove, fail mode) and create/load progress of
	// full duplication. Created (0700) on start if missing.
	StateDir string
	// Role is direct, edge or sink; Relay configures the WAN link between
	// edge and sink (docs/relay.md §3).
	Role  Role
	Relay Relay
}

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
	return b.String()
}

// Error lists every problem found in a file.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config: %s: %d problem(s)", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		if e.File != "" {
			b.WriteString(e.File + ":")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return ErrInvalid }

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	return Parse(data, path)
}
