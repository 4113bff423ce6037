package replay

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dupbridge/dupbridge/walreader"
)

// Skipped counts what a master would not ship (duplication.md §3.3-3.5),
// plus what this replay did not reach.
type Skipped struct {
	Empty               int64 `json:"empty"`                  // empty-write mutations
	NonIdempotent       int64 `json:"non_idempotent"`         // INCR / CHECK_AND_SET / CHECK_AND_MUTATE updates
	DuplicateOrBulkLoad int64 `json:"duplicate_or_bulk_load"` // DUPLICATE / BULK_LOAD updates
	Unknown             int64 `json:"unknown"`                // updates with an unknown task code
	Uncommitted         int64 `json:"uncommitted"`            // mutations of the uncommitted tail
}

func (s *Skipped) add(o Skipped) {
	s.Empty += o.Empty
	s.NonIdempotent += o.NonIdempotent
	s.DuplicateOrBulkLoad += o.DuplicateOrBulkLoad
	s.Unknown += o.Unknown
	s.Uncommitted += o.Uncommitted
}

// Corrupt counts what Options.SkipCorrupt let through.
type Corrupt struct {
	Regions        int64 `json:"regions"`         // corrupt stretches skipped
	Bytes          int64 `json:"bytes"`           // their bytes
	Gaps           int64 `json:"gaps"`            // gaps between files let through
	MissingDecrees int64 `json:"missing_decrees"` // committed decrees not in the log (lost with the corrupt data)
	// Resets counts commit-point resets: a last_committed_decree beyond
	// every logged decree (after a learn, or when the mutations that
	// committed the buffered ones were in skipped data) drops the
	// uncommitted ones, as Pegasus's replay does.
	Resets int64 `json:"commit_resets"`
}

func (c *Corrupt) add(o Corrupt) {
	c.Regions += o.Regions
	c.Bytes += o.Bytes
	c.Gaps += o.Gaps
	c.MissingDecrees += o.MissingDecrees
	c.Resets += o.Resets
}

// count books one reader warning.
func (c *Corrupt) count(w walreader.Warning) {
	switch w.Kind {
	case walreader.WarnSkipped:
		c.Regions++
		c.Bytes += w.Bytes
	case walreader.WarnGap:
		c.Gaps++
	case walreader.WarnMissingDecree:
		c.MissingDecrees++
	case walreader.WarnReset:
		c.Resets++
	}
}

// PartitionSummary is the outcome for one source partition.
type PartitionSummary struct {
	Path           string `json:"path"`
	AppID          int32  `json:"app_id"` // source gpid, from the plog
	PartitionIndex int32  `json:"partition_index"`
	StartDecree    int64  `json:"start_decree"` // first decree eligible
	LastDecree     int64  `json:"last_decree"`  // last decree fully acknowledged (StartDecree-1 if none)
	Mutations      int64  `json:"mutations"`    // committed mutations with at least one shipped entry
	Entries        int64  `json:"entries"`
	Bytes          int64  `json:"bytes"` // raw_message bytes
	Batches        int64  `json:"batches"`
	Rounds         int64  `json:"rounds"`
	// MaxOpenRounds is the most rounds of the partition shipped and not
	// yet acknowledged at one time: 1 in the pegasus discipline, the
	// pipeline's depth in the pipelined one.
	MaxOpenRounds int64   `json:"max_open_rounds"`
	Skipped       Skipped `json:"skipped"`
	Corrupt       Corrupt `json:"corrupt"`
	Err           string  `json:"error,omitempty"`
}

// Summary is the outcome of Run.
type Summary struct {
	Table            string     `json:"table"`
	Discipline       Discipline `json:"discipline"`
	RemoteAppID      int32      `json:"remote_app_id"`
	RemotePartitions int32      `json:"remote_partitions"`

	Mutations    int64   `json:"mutations"`
	Entries      int64   `json:"entries"`
	Bytes        int64   `json:"bytes"`         // raw_message bytes shipped
	RequestBytes int64   `json:"request_bytes"` // duplicate_request bodies acknowledged
	Skipped      Skipped `json:"skipped"`
	Corrupt      Corrupt `json:"corrupt"`
	Batches      int64   `json:"batches"` // acknowledged batches
	Retries      int64   `json:"retries"` // resends after a failure
	Errors       int64   `json:"errors"`  // failed attempts (RPC, transport or duplicate_response errors)
	Refreshes    int64   `json:"config_refreshes"`
	// MaxOpenRounds is the largest PartitionSummary.MaxOpenRounds.
	MaxOpenRounds int64 `json:"max_open_rounds"`

	Elapsed         time.Duration `json:"-"`
	ElapsedSeconds  float64       `json:"elapsed_seconds"`
	MutationsPerSec float64       `json:"mutations_per_second"`
	MBPerSec        float64       `json:"mb_per_second"` // raw_message MB (1e6 bytes) per second
	LatencyP50      time.Duration `json:"-"`
	LatencyP99      time.Duration `json:"-"`
	// LatencyP50Ms: pegasus, the round trip of each batch's successful
	// attempt; pipelined, each request from its hand-over to the router to
	// its acknowledgement, which includes waiting behind the window.
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	// LagP50 and LagP99 are per entry, from the moment its round was
	// scheduled to go (Options.Rate's schedule; the round's load when
	// Rate is 0) to the acknowledgement of its batch, i.e. applied on the
	// follower: with Rate below what the path sustains, the end-to-end lag
	// a master writing at that rate would see.
	LagP50   time.Duration `json:"-"`
	LagP99   time.Duration `json:"-"`
	LagP50Ms float64       `json:"lag_p50_ms"`
	LagP99Ms float64       `json:"lag_p99_ms"`

	Partitions []PartitionSummary `json:"partitions"`
}

// Progress is a snapshot for progress displays.
type Progress struct {
	Mutations, Entries, Bytes int64 // acknowledged so far
	// LogBytesRead of LogBytesTotal: plog bytes loaded so far (an ETA base).
	LogBytesRead, LogBytesTotal int64
	Batches, Retries, Errors    int64
	Partitions, PartitionsDone  int
	Elapsed                     time.Duration
}

// counters are the run-wide atomic counters.
type counters struct {
	mutations, entries, bytes, reqBytes atomic.Int64
	batches, retries, errors, refreshes atomic.Int64
	logRead                             atomic.Int64
	partsDone                           atomic.Int64
}

// histogram records durations in logarithmic buckets (~4% wide) for
// p50/p99 without keeping every sample.
type histogram struct {
	mu      sync.Mutex
	buckets map[int]int64
	n       int64
}

const histBase = 1.04

func (h *histogram) record(d time.Duration) { h.recordN(d, 1) }

// recordN records d n times.
func (h *histogram) recordN(d time.Duration, n int64) {
	us := float64(d) / float64(time.Microsecond)
	if us < 1 {
		us = 1
	}
	b := int(math.Log(us) / math.Log(histBase))
	h.mu.Lock()
	if h.buckets == nil {
		h.buckets = map[int]int64{}
	}
	h.buckets[b] += n
	h.n += n
	h.mu.Unlock()
}

// quantile returns the upper edge of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return 0
	}
	maxB := 0
	minB := math.MaxInt
	for b := range h.buckets {
		maxB = max(maxB, b)
		minB = min(minB, b)
	}
	want := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for b := minB; b <= maxB; b++ {
		seen += h.buckets[b]
		if seen >= want {
			return time.Duration(math.Pow(histBase, float64(b+1)) * float64(time.Microsecond))
		}
	}
	return time.Duration(math.Pow(histBase, float64(maxB+1)) * float64(time.Microsecond))
}
