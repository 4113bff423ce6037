package pegasussim

import (
	"strconv"
	"sync"
	"time"
)

// App statuses (wire.md §4.3).
const (
	asAvailable = 1
	asDropped   = 6
)

// partition is one table partition: its data and its write state. mu
// serialises every request on it, as a real replica applies one partition's
// mutations in order.
type partition struct {
	mu          sync.Mutex
	appID       int32
	pidx        int32
	count       int // partition count of the table
	defaultTTL  uint32
	validHash   bool // env replica.split.validate_partition_hash
	st          *store
	decree      int64
	lastTS      int64
	emptyWrites int64

	scanners map[int64]*scanContext
	nextScan int64

	// misplaced: raw keys whose hash names another partition, with how
	// often they were written here or rejected (strict mode).
	misplaced map[string]misplacedCount
}

type misplacedCount struct{ written, rejected int64 }

// partConfig is the meta's view of a partition.
type partConfig struct {
	ballot      int64
	primary     int   // replica endpoint index
	secondaries []int // replica endpoint indexes
	// unavailableUntil: the primary answers unavailableErr until then.
	unavailableUntil time.Time
	unavailableErr   string
}

// table is one table. Its configs are guarded by Cluster.mu; its
// partitions by their own locks.
type table struct {
	name         string
	appID        int32
	replicaCount int // capped at the endpoint count
	envs         map[string]string
	status       int32
	createSecond int64
	dropSecond   int64
	appType      string
	// requestedReplicas is the replica count asked for at creation, before
	// capping; create_app with success_if_exist compares against it.
	requestedReplicas int
	parts             []*partition
	configs           []partConfig
	// checkpointDir and checkpointDecree: the master face (checkpoint.go).
	checkpointDir    string
	checkpointDecree int64
}

func newTable(name string, appID int32, partitions, replicaCount, endpoints int, envs map[string]string, now time.Time, rr *int) *table {
	requested := replicaCount
	if replicaCount > endpoints {
		replicaCount = endpoints
	}
	if replicaCount < 1 {
		replicaCount = 1
	}
	t := &table{
		name: name, appID: appID, replicaCount: replicaCount, envs: map[string]string{},
		status: asAvailable, createSecond: now.Unix(), appType: "pegasus", requestedReplicas: requested,
	}
	for k, v := range envs {
		t.envs[k] = v
	}
	var ttl uint32
	if s, ok := t.envs["default_ttl"]; ok {
		if v, err := strconv.ParseUint(s, 10, 32); err == nil {
			ttl = uint32(v)
		}
	}
	valid := t.envs["replica.split.validate_partition_hash"] == "true"
	for i := 0; i < partitions; i++ {
		t.parts = append(t.parts, &partition{
			appID: appID, pidx: int32(i), count: partitions, defaultTTL: ttl, validHash: valid,
			st: newStore(),
		})
		// Primaries round-robin over the endpoints; secondaries are the
		// next endpoints after the primary.
		prim := *rr % endpoints
		*rr++
		cfg := partConfig{ballot: 1, primary: prim}
		for j := 1; j < replicaCount; j++ {
			cfg.secondaries = append(cfg.secondaries, (prim+j)%endpoints)
		}
		t.configs = append(t.configs, cfg)
	}
	return t
}
