package router

import (
	"encoding/binary"
	"time"

	"github.com/dupbridge/dupbridge/mutation"
)

// Shipment is one encoded duplicate_request for one follower partition
// plus the metadata the router needs for the header and for logs.
//
// The router owns Body from Ship until done is called; the caller must not
// touch it in between (and may reuse it afterwards).
type Shipment struct {
	// Body is the complete RDSN body of RPC_RRDB_RRDB_DUPLICATE: the
	// one-field wrapper (wire.md §1.9) around duplicate_request{1: entries}
	// (wire.md §4.6). Build it with mutation.DupRequestWriter or Builder.
	// Coalescing and re-splitting need the canonical layout those write
	// (CanonicalBody); any other layout is still shipped, alone.
	Body []byte
	// PartitionHash is the key hash of the batch's last entry, sent as the
	// header's partition_hash (wire.md §4.6, §6.1).
	PartitionHash uint64
	// Entries is the number of duplicate entries in Body.
	Entries int
	// PartitionCount is the follower partition count the caller split the
	// entries against (PartitionCount() at that time); 0 means "the
	// current one". A stale count makes the router re-split the body.
	PartitionCount int
	// FirstTimestamp and LastTimestamp are the entries' master timestamps
	// (µs), for logs only.
	FirstTimestamp, LastTimestamp int64
	// FirstDecree and LastDecree are the master decrees when the caller
	// knows them (plog replay), 0 otherwise; for logs only.
	FirstDecree, LastDecree int64
	// Hashes, when the caller has them, are the routing hashes of the
	// entries in order (mutation.DupEntry.Hash), for a Body it built with
	// mutation.DupRequestWriter from entries it validated. The router then
	// trusts them instead of walking the body again (inspect); with any
	// other length they are ignored.
	Hashes []uint64
}

// Size is the body size in bytes, the unit of the memory accounting.
func (s *Shipment) Size() int { return len(s.Body) }

// Status says how a shipment ended.
type Status uint8

const (
	// StatusOK: the follower acknowledged every entry (RPC ERR_OK and
	// duplicate_response.error == 0).
	StatusOK Status = iota
	// StatusSkipped: PolicySkip dropped the shipment after MaxAttempts
	// failed attempts; it was logged and counted. The caller may ack the
	// master anyway.
	StatusSkipped
	// StatusClosed: the Table was closed (or its context cancelled) before
	// the shipment was acknowledged; it may or may not have been applied.
	StatusClosed
	// StatusRejected: the shipment was invalid (bad partition index, empty
	// body) and was never sent.
	StatusRejected
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusSkipped:
		return "skipped"
	case StatusClosed:
		return "closed"
	case StatusRejected:
		return "rejected"
	}
	return "unknown"
}

// Result is handed to a shipment's done callback, exactly once.
type Result struct {
	Status Status
	// Err is the last error seen (StatusSkipped), ErrClosed (StatusClosed),
	// the reason (StatusRejected), nil for StatusOK.
	Err error
	// Attempts is the number of RPCs sent for the shipment (for a
	// re-split shipment, the highest count of its parts).
	Attempts int
	// Latency is the time from Ship to done.
	Latency time.Duration
}

// Canonical duplicate_request body layout (wire.md §4.6 worked body):
// wrapper `0C 00 00`, entries field `0F 00 01`, element type `0C`, i32 count,
// the entries, then STOP of duplicate_request and STOP of the wrapper.
const (
	bodyHeaderLen  = 3 + 3 + 1 + 4
	bodyTrailerLen = 2
	// BodyOverhead is the size of a canonical body with no entries.
	BodyOverhead = bodyHeaderLen + bodyTrailerLen
)

// appendBodyHeader appends the canonical header for n entries.
func appendBodyHeader(dst []byte, n int) []byte {
	dst = append(dst, 0x0C, 0x00, 0x00, 0x0F, 0x00, 0x01, 0x0C)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// CanonicalBody reports whether body has the canonical layout and, if so,
// its entry count and the bytes of its entries (a sub-slice of body). It
// checks the envelope only (header, count sign, the two closing STOPs), not
// the entries; the router also walks the entries (inspect) before it
// coalesces or re-splits a shipment.
func CanonicalBody(body []byte) (entries []byte, n int, ok bool) {
	if len(body) < BodyOverhead {
		return nil, 0, false
	}
	// The wrapper's field id is arbitrary (wire.md §1.9): accept any.
	if body[0] != 0x0C || body[3] != 0x0F || body[4] != 0x00 || body[5] != 0x01 || body[6] != 0x0C {
		return nil, 0, false
	}
	cnt := int32(binary.BigEndian.Uint32(body[7:11]))
	if cnt < 0 || body[len(body)-1] != 0 || body[len(body)-2] != 0 {
		return nil, 0, false
	}
	return body[bodyHeaderLen : len(body)-bodyTrailerLen], int(cnt), true
}

// Builder accumulates encoded duplicate_entry structs for one follower
// partition and produces Shipments in the canonical layout. Not safe for
// concurrent use. The zero value is ready.
type Builder struct {
	buf        []byte
	n          int
	lastHash   uint64
	first, lst int64
}

// Add appends one encoded duplicate_entry struct (fields and STOP, as
// mutation's iterator hands out in DupEntry.Raw), with its routing hash
// and master timestamp (µs). The bytes are copied.
func (b *Builder) Add(rawEntry []byte, hash uint64, timestampUs int64) {
	if b.n == 0 {
		b.buf = appendBodyHeader(b.buf[:0], 0)
		b.first = timestampUs
	}
	b.buf = append(b.buf, rawEntry...)
	b.n++
	b.lastHash = hash
	b.lst = timestampUs
}

// Len is the number of entries added since the last Shipment.
func (b *Builder) Len() int { return b.n }

// Size is the body size the next Shipment will have.
func (b *Builder) Size() int {
	if b.n == 0 {
		return 0
	}
	return len(b.buf) + bodyTrailerLen
}

// Shipment returns the entries added so far as a Shipment with its own
// body (a fresh copy) and resets the Builder; nil when nothing was added.
func (b *Builder) Shipment(partitionCount int) *Shipment {
	if b.n == 0 {
		return nil
	}
	body := make([]byte, len(b.buf), len(b.buf)+bodyTrailerLen)
	copy(body, b.buf)
	binary.BigEndian.PutUint32(body[7:11], uint32(b.n))
	body = append(body, 0x00, 0x00)
	s := &Shipment{
		Body:           body,
		PartitionHash:  b.lastHash,
		Entries:        b.n,
		PartitionCount: partitionCount,
		FirstTimestamp: b.first,
		LastTimestamp:  b.lst,
	}
	b.n = 0
	b.buf = b.buf[:0]
	return s
}

// inspect reports whether body is well formed — canonical, its entries
// decode (mutation.DupIter, no allocation per entry) to exactly the
// declared count, each with a routing hash — and returns those hashes
// (mutation.DupEntry.Hash: the hash key's), used to let key-disjoint RPCs
// share the wire (doc.go "Order"). Only well-formed shipments are coalesced:
// a malformed one merged with others could make the follower misread the
// entries after it. hashes is nil when ok is false.
func inspect(body []byte) (ok bool, hashes []uint64) {
	_, n, ok := CanonicalBody(body)
	if !ok {
		return false, nil
	}
	it, err := mutation.NewDupIter(body)
	if err != nil || it.Legacy() || it.Len() != n {
		return false, nil
	}
	hashes = make([]uint64, 0, n)
	var e mutation.DupEntry
	for it.Next(&e) {
		h, err := e.Hash()
		if err != nil {
			return false, nil
		}
		hashes = append(hashes, h)
	}
	if it.Err() != nil || len(hashes) != n {
		return false, nil
	}
	return true, hashes
}
