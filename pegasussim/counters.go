package pegasussim

import (
	"maps"
	"sync"
)

// counters are the simulator's event counts.
type counters struct {
	mu                 sync.Mutex
	requests           map[string]int64
	misplacedByTable   map[string]int64
	rejectedByTable    map[string]int64
	dupRequests        int64
	dupEntriesApplied  int64
	errorsInjected     int64
	delaysInjected     int64
	malformed          int64
	corruptWrites      int64
	metaGpidRejected   int64
	headerHashMismatch int64
	connections        int64
}

func (c *counters) init() {
	c.requests = map[string]int64{}
	c.misplacedByTable = map[string]int64{}
	c.rejectedByTable = map[string]int64{}
}

func (c *counters) add(p *int64, n int64) {
	c.mu.Lock()
	*p += n
	c.mu.Unlock()
}

func (c *counters) request(name string) {
	c.mu.Lock()
	c.requests[name]++
	c.mu.Unlock()
}

func (c *counters) misplaced(table string, n int64, rejected bool) {
	c.mu.Lock()
	c.misplacedByTable[table] += n
	if rejected {
		c.rejectedByTable[table] += n
	}
	c.mu.Unlock()
}

// Counters is a snapshot of the simulator's counts.
type Counters struct {
	// Requests counts received requests by RPC name.
	Requests map[string]int64 `json:"requests"`
	// DupRequests counts well-formed RPC_RRDB_RRDB_DUPLICATE requests that
	// reached a primary; DupEntriesApplied the entries they applied.
	DupRequests       int64 `json:"dup_requests"`
	DupEntriesApplied int64 `json:"dup_entries_applied"`
	// Misplaced counts, per table, keys written to (or, in strict mode,
	// rejected by) a partition their hash does not name; MisplacedRejected
	// is the strict-mode part.
	Misplaced         map[string]int64 `json:"misplaced"`
	MisplacedRejected map[string]int64 `json:"misplaced_rejected"`
	// ErrorsInjected counts injected RPC-level and duplicate errors;
	// DelaysInjected delayed replies.
	ErrorsInjected int64 `json:"errors_injected"`
	DelaysInjected int64 `json:"delays_injected"`
	// Malformed counts requests whose body could not be decoded (answered
	// ERR_INVALID_DATA); CorruptWrites duplicate entries whose payload could
	// not be decoded (the request is answered as it stands, duplication.md
	// §4.6).
	Malformed     int64 `json:"malformed"`
	CorruptWrites int64 `json:"corrupt_writes"`
	// MetaGpidRejected counts meta requests with app_id > 0 (a real meta
	// aborts on them, wire.md §1.3).
	MetaGpidRejected int64 `json:"meta_gpid_rejected"`
	// HeaderHashMismatch counts single PUT/REMOVE requests whose non-zero
	// header partition_hash differs from the key hash (a real replica
	// server aborts, wire.md §7 item 6).
	HeaderHashMismatch int64 `json:"header_hash_mismatch"`
	// Connections counts accepted connections.
	Connections int64 `json:"connections"`
	// EmptyWrites counts writes that stored nothing but an empty record
	// (rejected checks, invalid arguments, stale timetags).
	EmptyWrites int64 `json:"empty_writes"`
}

// Counters returns a snapshot of the counts.
func (c *Cluster) Counters() Counters {
	k := &c.counters
	k.mu.Lock()
	s := Counters{
		Requests: maps.Clone(k.requests), DupRequests: k.dupRequests, DupEntriesApplied: k.dupEntriesApplied,
		Misplaced: maps.Clone(k.misplacedByTable), MisplacedRejected: maps.Clone(k.rejectedByTable),
		ErrorsInjected: k.errorsInjected, DelaysInjected: k.delaysInjected, Malformed: k.malformed,
		CorruptWrites: k.corruptWrites, MetaGpidRejected: k.metaGpidRejected,
		HeaderHashMismatch: k.headerHashMismatch, Connections: k.connections,
	}
	k.mu.Unlock()
	c.mu.RLock()
	for _, t := range c.tables {
		for _, p := range t.parts {
			p.mu.Lock()
			s.EmptyWrites += p.emptyWrites
			p.mu.Unlock()
		}
	}
	c.mu.RUnlock()
	return s
}
