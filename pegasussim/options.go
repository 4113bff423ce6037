package pegasussim

import (
	"fmt"
	"time"

	"go.uber.org/zap"
)

// TableSpec describes a table the simulator creates at start.
type TableSpec struct {
	Name       string
	Partitions int
	// ReplicaCount is the table's replica count; 0 means Options.Replicas.
	// It is capped at the number of replica endpoints, and the partition
	// configurations report the capped value as max_replica_count so that it
	// matches their secondaries (wire.md §7, last bullet).
	ReplicaCount int
	// AppID pins the table's app_id; 0 assigns the next free id (from 1).
	AppID int32
	// Envs are the table's envs. "default_ttl" (seconds) applies to writes
	// without expiry; "replica.split.validate_partition_hash" = "true" makes
	// scans skip keys of other partitions.
	Envs map[string]string
	// CheckpointDir, when set (an absolute path), makes the table a master
	// table for full duplication: partition i's last checkpoint is the set
	// of regular files under CheckpointDir/i, served through
	// RPC_QUERY_LAST_CHECKPOINT_INFO and the NFS RPCs (checkpoint.go). A
	// partition without its directory answers ERR_PATH_NOT_FOUND (no
	// checkpoint yet).
	CheckpointDir string
	// CheckpointDecree is the checkpoint's decree (default 1).
	CheckpointDecree int64
}

// Options configure a simulated cluster. The zero value is a usable
// three-replica cluster on loopback with no tables.
type Options struct {
	Tables []TableSpec
	// Replicas is the number of replica endpoints (default 3).
	Replicas int
	// MetaAddr and ReplicaAddrs are listen addresses; default 127.0.0.1:0.
	// ReplicaAddrs, when set, must have Replicas entries.
	MetaAddr     string
	ReplicaAddrs []string
	// HTTPAddr, when set, serves the JSON control endpoint there.
	HTTPAddr string
	// HostName is the host of the host_port fields (hp_primary, ...); the
	// listen IP when empty.
	HostName string
	// OmitHostPort leaves hp_primary/hp_secondaries/hp_last_drops out of
	// query-config answers, for peers older than Pegasus 2.6 (wire.md §4.1).
	OmitHostPort bool
	// ServerName overrides the "server" string of storage responses; by
	// default it is the replica endpoint's host:port.
	ServerName string
	// Strict rejects requests whose keys belong to another partition with
	// ERR_PARENT_PARTITION_MISUSED instead of applying them (package doc).
	Strict bool
	// ClusterID is this follower's own duplication cluster id (0: none).
	ClusterID uint8
	// DupGroup is the [duplication-group] section: cluster name → id.
	DupGroup map[string]uint8
	// DupIgnoreOtherClusterIDs is [replication] dup_ignore_other_cluster_ids.
	DupIgnoreOtherClusterIDs bool
	// MaxWriteSize is [replication] max_allowed_write_size (default 1 MiB).
	MaxWriteSize int
	// Now is the clock for expiry and timestamps (default time.Now).
	Now func() time.Time
	// Logger receives the simulator's log lines (default: no logging).
	Logger *zap.Logger
}

// DefaultMaxWriteSize is max_allowed_write_size's default (duplication.md §5).
const DefaultMaxWriteSize = 1 << 20

func (o *Options) withDefaults() (Options, error) {
	c := *o
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.Replicas < 1 {
		return c, fmt.Errorf("pegasussim: Replicas = %d, want ≥ 1", c.Replicas)
	}
	if c.MetaAddr == "" {
		c.MetaAddr = "127.0.0.1:0"
	}
	if len(c.ReplicaAddrs) == 0 {
		c.ReplicaAddrs = make([]string, c.Replicas)
		for i := range c.ReplicaAddrs {
			c.ReplicaAddrs[i] = "127.0.0.1:0"
		}
	}
	if len(c.ReplicaAddrs) != c.Replicas {
		return c, fmt.Errorf("pegasussim: %d replica addresses for %d replicas", len(c.ReplicaAddrs), c.Replicas)
	}
	if c.MaxWriteSize == 0 {
		c.MaxWriteSize = DefaultMaxWriteSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	seen := map[uint8]string{}
	for name, id := range c.DupGroup {
		if id < 1 || id > 127 {
			return c, fmt.Errorf("pegasussim: duplication-group %s = %d, want 1..127", name, id)
		}
		if other, ok := seen[id]; ok {
			return c, fmt.Errorf("pegasussim: duplication-group ids of %s and %s are both %d", name, other, id)
		}
		seen[id] = name
	}
	if c.ClusterID > 127 {
		return c, fmt.Errorf("pegasussim: cluster id %d, want 0..127", c.ClusterID)
	}
	return c, nil
}
