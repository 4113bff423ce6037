package router

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds (seconds) of the latency histogram
// buckets in Stats, Prometheus-style (cumulative counts per bound, +Inf
// implied by Count).
var latencyBounds = [...]float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60}

// LatencyBounds returns the histogram bucket upper bounds in seconds.
func LatencyBounds() []float64 { return latencyBounds[:] }

// Histogram is a snapshot of a latency histogram: Buckets[i] counts
// observations ≤ LatencyBounds()[i] (cumulative, as Prometheus wants).
type Histogram struct {
	Buckets []uint64 `json:"buckets"`
	Count   uint64   `json:"count"`
	Sum     float64  `json:"sum"` // seconds
}

type histogram struct {
	mu      sync.Mutex
	buckets [len(latencyBounds)]uint64
	count   uint64
	sum     float64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	h.mu.Lock()
	for i, b := range latencyBounds {
		if s <= b {
			h.buckets[i]++
			break
		}
	}
	h.count++
	h.sum += s
	h.mu.Unlock()
}

func (h *histogram) snapshot() Histogram {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Histogram{Buckets: make([]uint64, len(latencyBounds)), Count: h.count, Sum: h.sum}
	var acc uint64
	for i, c := range h.buckets {
		acc += c
		out.Buckets[i] = acc
	}
	return out
}

// PartitionStats are the counters of one follower partition index (kept
// across layout changes, indexed by partition).
type PartitionStats struct {
	// Acknowledged shipments, their entries and body bytes.
	ShippedBatches uint64 `json:"shipped_batches"`
	ShippedEntries uint64 `json:"shipped_entries"`
	ShippedBytes   uint64 `json:"shipped_bytes"`
	// RPCs that succeeded (coalesced shipments count once).
	RPCs uint64 `json:"rpcs"`
	// Failed attempts (each is retried or ends in a skip).
	Retries uint64 `json:"retries"`
	// Shipments dropped by PolicySkip, and their entries.
	SkippedBatches uint64 `json:"skipped_batches"`
	SkippedEntries uint64 `json:"skipped_entries"`
	// Shipments queued (not yet done) and their body bytes, now.
	Queued      int   `json:"queued"`
	QueuedBytes int64 `json:"queued_bytes"`
	// InFlight is true while an RPC of this partition is on the wire.
	InFlight bool `json:"in_flight"`
	// LastAckedTimestamp is the newest master timestamp (µs) of an entry
	// the follower acknowledged (0: none yet); LastError the latest failed
	// attempt's error name, empty once an attempt succeeds.
	LastAckedTimestamp int64  `json:"last_acked_timestamp_us"`
	LastError          string `json:"last_error,omitempty"`
}

type partCounters struct {
	shippedBatches, shippedEntries, shippedBytes atomic.Uint64
	rpcs, retries                                atomic.Uint64
	skippedBatches, skippedEntries               atomic.Uint64
	lastAcked                                    atomic.Int64
}

// Stats is a snapshot of a Table's counters, for logs and for Prometheus
// export (server/ or cmd/ registers them).
type Stats struct {
	Table          string           `json:"table"`
	AppID          int32            `json:"app_id"`
	PartitionCount int              `json:"partition_count"`
	Partitions     []PartitionStats `json:"partitions"`
	// Totals.
	ShippedBatches uint64 `json:"shipped_batches"`
	ShippedEntries uint64 `json:"shipped_entries"`
	ShippedBytes   uint64 `json:"shipped_bytes"`
	Retries        uint64 `json:"retries"`
	SkippedBatches uint64 `json:"skipped_batches"`
	SkippedEntries uint64 `json:"skipped_entries"`
	Queued         int    `json:"queued"`
	QueuedBytes    int64  `json:"queued_bytes"`
	InFlight       int    `json:"in_flight"`
	// Meta queries made, failed ones, and layout changes applied.
	Refreshes       uint64 `json:"refreshes"`
	RefreshFailures uint64 `json:"refresh_failures"`
	LayoutChanges   uint64 `json:"layout_changes"`
	// Shipments re-split after a layout change, and those that could not
	// be parsed and went whole to the partition of their last entry.
	Resplit         uint64 `json:"resplit"`
	ResplitFallback uint64 `json:"resplit_fallback"`
	// InvalidArgument counts follower answers with error 4.
	InvalidArgument uint64 `json:"invalid_argument"`
	// Errors counts failed attempts by name: RPC-level names
	// ("ERR_BUSY"), follower codes ("rocksdb:TryAgain"), "transport",
	// "no_primary", "bad_response"; at most 64 names, the rest under
	// OtherErrors.
	Errors map[string]uint64 `json:"errors"`
	// RPCLatency: one successful RPC; AckLatency: Ship to done (OK).
	RPCLatency Histogram `json:"rpc_latency"`
	AckLatency Histogram `json:"ack_latency"`
}

type counters struct {
	refreshes, refreshFailures, layoutChanges atomic.Uint64
	resplit, resplitFallback                  atomic.Uint64
	invalidArgument                           atomic.Uint64

	errMu  sync.Mutex
	errors map[string]uint64

	rpcLatency, ackLatency histogram
}

// maxErrorNames bounds the distinct names in Stats.Errors (and so the
// error label of dupbridge_router_errors_total): RPC-level error names come
// off the wire from the follower, so a faulty one could invent a new name
// per reply. Pegasus's own names and ours fit well under it.
const maxErrorNames = 64

// OtherErrors is the Stats.Errors name under which failed attempts are
// counted once maxErrorNames distinct names have been seen.
const OtherErrors = "other"

func (c *counters) countError(name string) {
	c.errMu.Lock()
	if c.errors == nil {
		c.errors = make(map[string]uint64)
	}
	if _, seen := c.errors[name]; !seen && len(c.errors) >= maxErrorNames-1 {
		name = OtherErrors
	}
	c.errors[name]++
	c.errMu.Unlock()
}

func (c *counters) errorsSnapshot() map[string]uint64 {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return maps.Clone(c.errors)
}
