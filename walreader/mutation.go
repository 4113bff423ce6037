package walreader

import (
	"encoding/binary"

	"github.com/dupbridge/dupbridge/mutation"
)

// Mutation framing constants (storage.md §1.6).
const (
	MutationHeaderSize = 56
	// minMutationSize is the header plus update_count.
	minMutationSize = MutationHeaderSize + 4
	// descriptorMinSize is name_len + serialization_type + data_len.
	descriptorMinSize = 12
	// legacyVersionMin: a first word above 64 is an old C++ vtable pointer
	// and the header carries no timestamp (storage.md §1.6, legacy header).
	legacyVersionMin = 64
)

// Serialization types of an update (dsn_msg_serialize_format, storage.md §1.6).
const (
	SerializeInvalid      = 0 // empty writes
	SerializeThriftBinary = 1 // every real client write
)

// Update is one write of a mutation. Name and Data alias the block buffer.
type Update struct {
	Code              mutation.Code
	Name              []byte // task-code name as stored
	SerializationType int32
	Data              []byte // the wrapped request payload (storage.md §2.2)
}

// Mutation is one decoded mutation (storage.md §1.6). Returned by the
// readers, it is valid until their next call; Clone keeps it.
type Mutation struct {
	File                string // path of the file it was read from
	FileOffset          int64  // file offset of its first byte
	BlockOffset         int64  // file offset of the enclosing block header
	HeaderVersion       int64  // 0, or a legacy vtable pointer (> 64)
	AppID               int32
	PartitionIndex      int32
	Ballot              int64
	Decree              int64
	LogOffset           int64 // global offset recorded in the header
	LastCommittedDecree int64
	Timestamp           int64 // µs since the Unix epoch; 0 for legacy headers
	Updates             []Update
	Size                int // encoded bytes

	own []byte // backing store of a clone's names and payloads
}

// IsEmptyWrite reports whether m is an empty write (storage.md §1.8).
func (m *Mutation) IsEmptyWrite() bool {
	return len(m.Updates) == 1 && m.Updates[0].Code == mutation.CodeWriteEmpty
}

// Clone returns a deep copy that owns its bytes.
func (m *Mutation) Clone() *Mutation {
	c := new(Mutation)
	m.CloneInto(c)
	return c
}

// CloneInto deep-copies m into dst, reusing dst's storage (dst must not be m).
func (m *Mutation) CloneInto(dst *Mutation) {
	ups, buf := dst.Updates[:0], dst.own[:0]
	n := 0
	for _, u := range m.Updates {
		n += len(u.Name) + len(u.Data)
	}
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	*dst = *m
	for _, u := range m.Updates {
		s := len(buf)
		buf = append(buf, u.Name...)
		name := buf[s:len(buf):len(buf)]
		s = len(buf)
		buf = append(buf, u.Data...)
		ups = append(ups, Update{Code: u.Code, Name: name, SerializationType: u.SerializationType, Data: buf[s:len(buf):len(buf)]})
	}
	dst.Updates = ups
	dst.own = buf
}

// DecodeMutation decodes the mutation at the start of b into m and returns
// its size. Updates reuse m.Updates' storage; Name and Data alias b. Every
// length is checked against the bytes left in b before use. m's File,
// FileOffset and BlockOffset are left unchanged. Errors wrap ErrBadMutation
// (the *Error is completed by the caller, which knows the position).
func DecodeMutation(b []byte, m *Mutation) (int, error) {
	if len(b) < minMutationSize {
		return 0, mutErr("%d bytes left, a mutation needs at least %d", len(b), minMutationSize)
	}
	le := binary.LittleEndian
	ver := int64(le.Uint64(b[0:]))
	m.HeaderVersion = ver
	m.AppID = int32(le.Uint32(b[8:]))
	m.PartitionIndex = int32(le.Uint32(b[12:]))
	m.Ballot = int64(le.Uint64(b[16:]))
	m.Decree = int64(le.Uint64(b[24:]))
	m.LogOffset = int64(le.Uint64(b[32:]))
	m.LastCommittedDecree = int64(le.Uint64(b[40:]))
	switch {
	case ver == 0:
		m.Timestamp = int64(le.Uint64(b[48:]))
	case ver > legacyVersionMin:
		m.Timestamp = 0 // the last word is __isset
	default:
		return 0, mutErr("header version %d (want 0, or > %d for a legacy header)", ver, legacyVersionMin)
	}
	count := int32(le.Uint32(b[56:]))
	p := minMutationSize
	if count < 0 || int64(count)*descriptorMinSize > int64(len(b)-p) {
		return 0, mutErr("update count %d does not fit in %d bytes", count, len(b)-p)
	}
	// Pass 1: validate the descriptors and the payload total.
	start := p
	var total int64
	for i := int32(0); i < count; i++ {
		if len(b)-p < descriptorMinSize {
			return 0, mutErr("update %d descriptor truncated", i)
		}
		nl := int32(le.Uint32(b[p:]))
		if nl < 0 || int64(nl) > int64(len(b)-p-descriptorMinSize) {
			return 0, mutErr("update %d name length %d exceeds the %d bytes left", i, nl, len(b)-p-descriptorMinSize)
		}
		p += 4 + int(nl)
		dl := int32(le.Uint32(b[p+4:]))
		p += 8
		if dl < 0 {
			return 0, mutErr("update %d negative data length %d", i, dl)
		}
		total += int64(dl)
	}
	if total > int64(len(b)-p) {
		return 0, mutErr("payloads need %d bytes, %d left", total, len(b)-p)
	}
	// Pass 2: build the updates; payloads follow all descriptors (§1.6).
	ups := m.Updates[:0]
	d, q := start, p
	for i := int32(0); i < count; i++ {
		nl := int(le.Uint32(b[d:]))
		name := b[d+4 : d+4+nl : d+4+nl]
		d += 4 + nl
		st := int32(le.Uint32(b[d:]))
		dl := int(le.Uint32(b[d+4:]))
		d += 8
		ups = append(ups, Update{Code: mutation.ParseCode(name), Name: name, SerializationType: st, Data: b[q : q+dl : q+dl]})
		q += dl
	}
	m.Updates = ups
	m.Size = q
	return q, nil
}

// mutErr is an ErrBadMutation without a position (the caller adds it).
func mutErr(format string, args ...any) error {
	return corrupt("", -1, -1, ErrBadMutation, format, args...)
}
