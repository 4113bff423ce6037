package mutation

import (
	"encoding/binary"

	"github.com/dupbridge/dupbridge/thrift"
)

// DupEntry is one duplicate_entry (wire.md §4.6). Slices alias the request
// body it was read from.
type DupEntry struct {
	Timestamp        int64  // field 1: µs timestamp of the master mutation
	TaskCode         []byte // field 2: task code name (wire type STRUCT, string payload)
	RawMessage       []byte // field 3: the update payload, its own wrapper included
	ClusterID        int8   // field 4: master's duplication cluster id
	HasClusterID     bool
	VerifyTimetag    bool // field 5: never set by the HEAD sender
	HasVerifyTimetag bool

	// Raw is the entry's own encoding, from its first field header to its
	// STOP inclusive. A bridge copies it verbatim into an outgoing request
	// (DupRequestWriter.AppendRaw). For a legacy request it is the whole
	// request struct, which has exactly the layout of an entry.
	Raw []byte
}

// Code is ParseCode(e.TaskCode).
func (e *DupEntry) Code() Code { return ParseCode(e.TaskCode) }

// Hash is the routing hash of the entry: PayloadHash of its raw message
// under its task code (duplication.md §3.5), which also validates the raw
// message. Zero allocations. Codes a master never ships (INCR, ...) are
// hashed too; check Code().Duplicated() before forwarding, since a C++
// follower answers them with error 4 (wire.md §4.6).
func (e *DupEntry) Hash() (uint64, error) {
	c := e.Code()
	if c == CodeDuplicate {
		return 0, errNotRoutable // duplicated writes are never forwarded (duplication.md §3.5)
	}
	return PayloadHash(c, e.RawMessage)
}

// DupIter walks the entries of a duplicate_request body without allocating
// per entry (wire.md §4.6). body is the one-field wrapper around the request
// (an RDSN body or THFT args, any wrapper field id). Both shapes are read:
// field 1 LIST of entries (v2.4+), or the request being one entry (≤ v2.3).
//
//	it, err := NewDupIter(body)
//	var e DupEntry
//	for it.Next(&e) { ... }
//	if err := it.Err(); err != nil { ... }
//
// The bytes after the last entry (rest of the request, wrapper STOP) are
// checked before Next reports the end. As in C++'s generated reader, the
// list's element type byte is not checked, entry fields with an unexpected
// type and unknown fields are skipped generically (thrift.Reader.Skip), and
// bytes after the wrapper's STOP are ignored.
type DupIter struct {
	r         thrift.Reader
	wrapperID int16
	legacy    bool
	total     int
	left      int
	tailDone  bool
	err       error
}

// NewDupIter starts an iterator over body.
func NewDupIter(body []byte) (DupIter, error) {
	var it DupIter
	err := it.Reset(body)
	return it, err
}

// Legacy reports the ≤ v2.3 shape (one entry, no list).
func (it *DupIter) Legacy() bool { return it.legacy }

// WrapperID is the field id of the body's outer wrapper.
func (it *DupIter) WrapperID() int16 { return it.wrapperID }

// Len is the number of entries the request declares (1 for legacy).
func (it *DupIter) Len() int { return it.total }

// Err is the first decode error, nil at a clean end.
func (it *DupIter) Err() error { return it.err }

// DupRequestWriter builds a duplicate_request body in the v2.4+ shape:
// wrapper, field 1 list header, entries, STOPs; the list count is patched in
// Finish (wire.md §4.6). The zero value is unusable until Begin. Appending
// allocates only when B must grow.
type DupRequestWriter struct {
	w       thrift.Writer
	countAt int
	n       int
	start   int
}

// Begin starts a request appended to dst with the given wrapper field id
// (0 for RDSN bodies, 1 for THFT args).
func (d *DupRequestWriter) Begin(dst []byte, wrapperID int16) {
	d.start = len(dst)
	d.w.B = dst
	d.w.WrapperBegin(thrift.STRUCT, wrapperID)
	d.w.FieldHeader(thrift.LIST, 1)
	d.countAt = len(d.w.B) + 1
	d.w.ListHeader(thrift.STRUCT, 0)
	d.n = 0
}

// AppendRaw appends one entry's encoded bytes verbatim (DupEntry.Raw).
func (d *DupRequestWriter) AppendRaw(raw []byte) {
	d.w.B = append(d.w.B, raw...)
	d.n++
}

// AppendEntry encodes one entry from its fields: timestamp, task_code and
// raw_message always; cluster_id when HasClusterID; verify_timetag when
// HasVerifyTimetag or VerifyTimetag.
func (d *DupRequestWriter) AppendEntry(e *DupEntry) {
	writeDupEntry(&d.w, e)
	d.n++
}

// Len is the number of entries appended so far.
func (d *DupRequestWriter) Len() int { return d.n }

// Size is the number of bytes of the request so far (without the 2 STOPs
// Finish adds).
func (d *DupRequestWriter) Size() int { return len(d.w.B) - d.start }

// Finish patches the list count, closes the request and the wrapper and
// returns the whole buffer (dst of Begin with the request appended).
func (d *DupRequestWriter) Finish() []byte {
	binary.BigEndian.PutUint32(d.w.B[d.countAt:], uint32(d.n))
	d.w.Stop()
	d.w.WrapperEnd()
	return d.w.B
}

// AppendDupLegacy appends a ≤ v2.3 duplicate_request (the request is the
// entry) for an old follower.
func AppendDupLegacy(dst []byte, wrapperID int16, e *DupEntry) []byte {
	w := thrift.Writer{B: dst}
	w.WrapperBegin(thrift.STRUCT, wrapperID)
	writeDupEntry(&w, e)
	w.WrapperEnd()
	return w.B
}

func writeDupEntry(w *thrift.Writer, e *DupEntry) {
	w.FieldHeader(thrift.I64, 1)
	w.I64(e.Timestamp)
	w.FieldHeader(thrift.STRUCT, 2)
	w.Binary(e.TaskCode)
	w.FieldHeader(thrift.STRUCT, 3)
	w.Blob(e.RawMessage)
	if e.HasClusterID {
		w.FieldHeader(thrift.BYTE, 4)
		w.I8(e.ClusterID)
	}
	if e.HasVerifyTimetag || e.VerifyTimetag {
		w.FieldHeader(thrift.BOOL, 5)
		w.Bool(e.VerifyTimetag)
	}
	w.Stop()
}

// DupResponse is duplicate_response (wire.md §4.6); both fields optional.
type DupResponse struct {
	Error        int32 // RocksDB status code; never send 4 to a master
	HasError     bool
	ErrorHint    []byte
	HasErrorHint bool
}

// AppendDupResponse appends a duplicate_response wrapped with wrapperID
// (result structs use 0 in both framings, wire.md §4): error always, the
// hint only when non-empty, as the C++ follower does.
func AppendDupResponse(dst []byte, wrapperID int16, errCode int32, hint string) []byte {
	w := thrift.Writer{B: dst}
	w.WrapperBegin(thrift.STRUCT, wrapperID)
	w.FieldHeader(thrift.I32, 1)
	w.I32(errCode)
	if hint != "" {
		w.FieldHeader(thrift.STRING, 2)
		w.String(hint)
	}
	w.Stop()
	w.WrapperEnd()
	return w.B
}
