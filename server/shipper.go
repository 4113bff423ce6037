package server

import (
	"context"
	"time"

	"github.com/dupbridge/dupbridge/config"
)

// Part is one follower-partition share of a master's duplicate request:
// an encoded duplicate_request body for one follower partition.
type Part struct {
	// Table is the configured table name (config.Table.Name).
	Table string
	// PartitionIndex is the follower partition, PayloadHash % PartitionCount.
	PartitionIndex int
	// PartitionCount is the follower count the entries were split against
	// (Shipper.PartitionCount at that time).
	PartitionCount int
	// Body is the one-field wrapper (field id 0) around
	// duplicate_request{1: entries} in the v2.4+ shape (wire.md §4.6), the
	// entries copied verbatim from the master's request. The shipper owns
	// it from Ship until done returns.
	Body []byte
	// Entries is the number of entries in Body.
	Entries int
	// PartitionHash is the routing hash of the last entry (the header's
	// partition_hash, wire.md §4.6).
	PartitionHash uint64
	// Hashes are the routing hashes of the entries, in order (the server
	// computed them to split the request), so that the shipper need not
	// decode the body again.
	Hashes []uint64
	// FirstTimestamp and LastTimestamp are the entries' master timestamps
	// in µs (for logs).
	FirstTimestamp, LastTimestamp int64
	// Tied are the indexes of entries with a key whose previous admitted
	// write had the same timetag (keyorder.Guard.FilterTied); an edge's sink
	// must not mark them verify_timetag when it resends (docs/relay.md §2.7).
	Tied []int
}

// PartStatus is how a part ended.
type PartStatus uint8

const (
	// PartAcked: the follower acknowledged every entry.
	PartAcked PartStatus = iota
	// PartSkipped: the table's failure policy (skip) dropped the part; the
	// master is acknowledged anyway and the skip is counted.
	PartSkipped
	// PartFailed: the part was not applied (table closed, shipper shut
	// down, rejected); the master gets a retryable error.
	PartFailed
)

// PartResult is handed to a part's done callback, exactly once.
type PartResult struct {
	Status PartStatus
	Err    error // why, for PartSkipped and PartFailed
}

// Shipper is what the server needs from the router (design.md steps 5-6).
// The real router is adapted to it in cmd/dupbridge; tests inject fakes.
//
// Concurrency contract: both methods are called on gnet event-loop
// goroutines, concurrently from several loops, and must not block.
type Shipper interface {
	// PartitionCount is the follower partition count of the configured
	// table named table, or 0 while it is not known yet (the server then
	// answers masters with a retryable error).
	PartitionCount(table string) int
	// Ship queues p behind every part shipped earlier for the same table
	// and partition (order per follower partition, design.md invariants)
	// and returns at once. done is called exactly once, from any
	// goroutine, when the part is acknowledged, skipped or failed; it must
	// not block and may be called before Ship returns.
	Ship(p *Part, done func(PartResult))
}

// TableCreator creates follower tables for the meta face's create_app
// (duplication.md §1.6) through the follower meta (rpcclient's meta client).
//
// Concurrency contract: called on its own goroutine, never on an event loop;
// it may block until ctx is done.
type TableCreator interface {
	// EnsureTable creates t's follower table with partitionCount partitions
	// if it does not exist; an existing table is success, whatever its
	// count. It returns the follower's partition count.
	EnsureTable(ctx context.Context, t *config.Table, partitionCount int) (int, error)
}

// createTimeout bounds one EnsureTable call made for a create_app.
const createTimeout = 30 * time.Second

// DeferredShipper is a Shipper that can queue parts without sending them
// until Flush. The server uses it when the Shipper has it: the parts of
// every request decoded in one gnet callback are shipped deferred and
// flushed once at its end, so a master's concurrent requests that arrived
// together leave for each follower partition coalesced in one RPC.
//
// Concurrency contract: as Shipper; Flush must not block.
type DeferredShipper interface {
	Shipper
	ShipDeferred(p *Part, done func(PartResult))
	Flush()
}

// FollowerHealth is a Shipper that knows whether each table's follower
// answers (server/follower). /readyz and dupbridge_follower_reachable use
// it when the Shipper has it.
//
// Concurrency contract: any goroutine; must not block.
type FollowerHealth interface {
	// FollowerFailing reports since when the follower of the configured
	// table named table has been failing with no success in between (the
	// zero time while it answers), and the latest failure.
	FollowerFailing(table string) (since time.Time, cause string)
}
