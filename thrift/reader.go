package thrift

import (
	"encoding/binary"
	"math"
)

// DefaultMaxDepth bounds struct/container nesting when skipping.
const DefaultMaxDepth = 64

// Reader decodes the thrift binary protocol from a byte slice without
// copying. The zero value reads nothing; use NewReader. A Reader is not safe
// for concurrent use.
type Reader struct {
	buf      []byte
	pos      int
	depth    int
	MaxDepth int // nesting limit for Skip; DefaultMaxDepth when 0
}

// NewReader returns a reader over b.
func NewReader(b []byte) Reader { return Reader{buf: b} }

// Reset points the reader at b, at offset 0.
func (r *Reader) Reset(b []byte) { *r = Reader{buf: b, MaxDepth: r.MaxDepth} }

// Pos is the offset of the next byte to read.
func (r *Reader) Pos() int { return r.pos }

// Remaining is the number of unread bytes.
func (r *Reader) Remaining() int { return len(r.buf) - r.pos }

// Bytes returns the whole underlying buffer.
func (r *Reader) Bytes() []byte { return r.buf }

// Rest returns the unread bytes (a sub-slice, not a copy).
func (r *Reader) Rest() []byte { return r.buf[r.pos:] }

// SetPos moves the cursor; p must be within the buffer.
func (r *Reader) SetPos(p int) {
	if p < 0 || p > len(r.buf) {
		panic("thrift: SetPos out of range")
	}
	r.pos = p
}

func (r *Reader) need(n int, op string) error {
	if n > len(r.buf)-r.pos {
		return newErr(op, r.pos, ErrShort)
	}
	return nil
}

// ReadFieldHeader reads a field header. At the end of a struct it returns
// typ == STOP and id 0.
func (r *Reader) ReadFieldHeader() (typ Type, id int16, err error) {
	if err = r.need(1, "field type"); err != nil {
		return 0, 0, err
	}
	typ = Type(r.buf[r.pos])
	if typ == STOP {
		r.pos++
		return STOP, 0, nil
	}
	if !typ.Valid() {
		return 0, 0, newErr("field type", r.pos, ErrBadType)
	}
	if err = r.need(3, "field header"); err != nil {
		return 0, 0, err
	}
	id = int16(binary.BigEndian.Uint16(r.buf[r.pos+1:]))
	r.pos += 3
	return typ, id, nil
}

// ReadBool reads a one-byte bool (any non-zero byte is true).
func (r *Reader) ReadBool() (bool, error) {
	if err := r.need(1, "bool"); err != nil {
		return false, err
	}
	v := r.buf[r.pos] != 0
	r.pos++
	return v, nil
}

// ReadI8 reads an i8.
func (r *Reader) ReadI8() (int8, error) {
	if err := r.need(1, "byte"); err != nil {
		return 0, err
	}
	v := int8(r.buf[r.pos])
	r.pos++
	return v, nil
}

// ReadI16 reads a big-endian i16.
func (r *Reader) ReadI16() (int16, error) {
	if err := r.need(2, "i16"); err != nil {
		return 0, err
	}
	v := int16(binary.BigEndian.Uint16(r.buf[r.pos:]))
	r.pos += 2
	return v, nil
}

// ReadI32 reads a big-endian i32.
func (r *Reader) ReadI32() (int32, error) {
	if err := r.need(4, "i32"); err != nil {
		return 0, err
	}
	v := int32(binary.BigEndian.Uint32(r.buf[r.pos:]))
	r.pos += 4
	return v, nil
}

// ReadI64 reads a big-endian i64.
func (r *Reader) ReadI64() (int64, error) {
	if err := r.need(8, "i64"); err != nil {
		return 0, err
	}
	v := int64(binary.BigEndian.Uint64(r.buf[r.pos:]))
	r.pos += 8
	return v, nil
}

// ReadDouble reads a big-endian IEEE-754 double.
func (r *Reader) ReadDouble() (float64, error) {
	v, err := r.ReadI64()
	return math.Float64frombits(uint64(v)), err
}

// ReadBinary reads an i32 length and that many bytes, returned as a
// sub-slice of the buffer. The length is checked against the remaining bytes
// before anything else happens.
func (r *Reader) ReadBinary() ([]byte, error) {
	start := r.pos
	if err := r.need(4, "binary length"); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(r.buf[r.pos:]))
	if n < 0 {
		return nil, newErr("binary length", start, ErrNegativeLength)
	}
	if int(n) > len(r.buf)-r.pos-4 {
		return nil, newErr("binary length", start, ErrTooLong)
	}
	r.pos += 4
	v := r.buf[r.pos : r.pos+int(n) : r.pos+int(n)]
	r.pos += int(n)
	return v, nil
}

// ReadString is ReadBinary; the bytes are not validated as UTF-8.
func (r *Reader) ReadString() ([]byte, error) { return r.ReadBinary() }

// ReadBlob reads an rDSN blob (STRUCT type byte, binary payload; wire.md §3).
func (r *Reader) ReadBlob() ([]byte, error) { return r.ReadBinary() }

// ReadGpid reads an rDSN gpid: an i64 whose high half is the partition index
// and low half the app id (wire.md §3).
func (r *Reader) ReadGpid() (appID, partitionIndex int32, err error) {
	v, err := r.ReadI64()
	if err != nil {
		return 0, 0, err
	}
	return int32(uint32(uint64(v))), int32(uint32(uint64(v) >> 32)), nil
}

// ReadRPCAddress reads an rDSN rpc_address (i64: ip<<32 | port<<16 | type).
// Type bits other than 0 (invalid) and 1 (IPv4) are rejected, as C++ does.
func (r *Reader) ReadRPCAddress() (uint64, error) {
	start := r.pos
	v, err := r.ReadI64()
	if err != nil {
		return 0, err
	}
	if t := uint64(v) & 3; t > 1 {
		return 0, newErr("rpc_address type", start, ErrBadValue)
	}
	return uint64(v), nil
}

// ReadHostPort reads an rDSN host_port: string host, i16 port, i8 type, with
// no field headers (wire.md §3). Type must be 0 or 1.
func (r *Reader) ReadHostPort() (host []byte, port uint16, typ int8, err error) {
	if host, err = r.ReadBinary(); err != nil {
		return nil, 0, 0, err
	}
	p, err := r.ReadI16()
	if err != nil {
		return nil, 0, 0, err
	}
	start := r.pos
	if typ, err = r.ReadI8(); err != nil {
		return nil, 0, 0, err
	}
	if typ != 0 && typ != 1 {
		return nil, 0, 0, newErr("host_port type", start, ErrBadValue)
	}
	return host, uint16(p), typ, nil
}

// ReadListHeader reads a list (or set) header. The count is checked against
// the remaining bytes (count × the smallest element encoding) so that a
// caller may size a slice from it without risk.
func (r *Reader) ReadListHeader() (elem Type, n int, err error) {
	start := r.pos
	if err = r.need(5, "list header"); err != nil {
		return 0, 0, err
	}
	elem = Type(r.buf[r.pos])
	if !elem.Valid() {
		return 0, 0, newErr("list element type", start, ErrBadType)
	}
	c := int32(binary.BigEndian.Uint32(r.buf[r.pos+1:]))
	if c < 0 {
		return 0, 0, newErr("list count", start, ErrNegativeLength)
	}
	if int64(c)*int64(elem.minSize()) > int64(len(r.buf)-r.pos-5) {
		return 0, 0, newErr("list count", start, ErrTooLong)
	}
	r.pos += 5
	return elem, int(c), nil
}

// ReadSetHeader reads a set header (same layout as a list).
func (r *Reader) ReadSetHeader() (elem Type, n int, err error) { return r.ReadListHeader() }

// ReadMapHeader reads a map header, with the same count check as lists.
func (r *Reader) ReadMapHeader() (key, val Type, n int, err error) {
	start := r.pos
	if err = r.need(6, "map header"); err != nil {
		return 0, 0, 0, err
	}
	key, val = Type(r.buf[r.pos]), Type(r.buf[r.pos+1])
	c := int32(binary.BigEndian.Uint32(r.buf[r.pos+2:]))
	if c < 0 {
		return 0, 0, 0, newErr("map count", start, ErrNegativeLength)
	}
	if c > 0 && (!key.Valid() || !val.Valid()) {
		return 0, 0, 0, newErr("map types", start, ErrBadType)
	}
	if int64(c)*int64(key.minSize()+val.minSize()) > int64(len(r.buf)-r.pos-6) {
		return 0, 0, 0, newErr("map count", start, ErrTooLong)
	}
	r.pos += 6
	return key, val, int(c), nil
}

// ReadMessageBegin reads a TMessage header in strict or non-strict form
// (wire.md §0.2). The name is a sub-slice of the buffer.
func (r *Reader) ReadMessageBegin() (name []byte, typ int, seqID int32, err error) {
	start := r.pos
	first, err := r.ReadI32()
	if err != nil {
		return nil, 0, 0, err
	}
	if first < 0 {
		if uint32(first)&versionMask != strictVersion {
			return nil, 0, 0, newErr("message version", start, ErrBadMessage)
		}
		typ = int(uint32(first) & 0xff)
		if name, err = r.ReadBinary(); err != nil {
			return nil, 0, 0, err
		}
	} else {
		r.pos = start
		if name, err = r.ReadBinary(); err != nil {
			return nil, 0, 0, err
		}
		t, err := r.ReadI8()
		if err != nil {
			return nil, 0, 0, err
		}
		typ = int(t)
	}
	if typ < MessageCall || typ > MessageOneway {
		return nil, 0, 0, newErr("message type", start, ErrBadMessage)
	}
	if seqID, err = r.ReadI32(); err != nil {
		return nil, 0, 0, err
	}
	return name, typ, seqID, nil
}

// ReadWrapperBegin reads the header of rDSN's one-field wrapper struct
// (wire.md §1.9): a type byte that must not be STOP and an arbitrary field
// id. The payload follows; ReadWrapperEnd reads the closing STOP.
func (r *Reader) ReadWrapperBegin() (typ Type, id int16, err error) {
	start := r.pos
	typ, id, err = r.ReadFieldHeader()
	if err != nil {
		return 0, 0, err
	}
	if typ == STOP {
		return 0, 0, newErr("wrapper", start, ErrBadType)
	}
	return typ, id, nil
}

// ReadWrapperEnd reads the wrapper's STOP byte. Like C++, it requires the
// byte to be present; unlike C++ it also requires it to be STOP.
func (r *Reader) ReadWrapperEnd() error {
	start := r.pos
	if err := r.need(1, "wrapper end"); err != nil {
		return err
	}
	if r.buf[r.pos] != byte(STOP) {
		return newErr("wrapper end", start, ErrBadType)
	}
	r.pos++
	return nil
}

// Skip skips one value of wire type t generically. It cannot know rDSN
// special types: a STRUCT-typed blob, gpid, rpc_address, host_port, task_code
// or error_code is mis-skipped (wire.md §3). Use SkipSchema where a schema is
// known. Nesting is bounded by MaxDepth.
func (r *Reader) Skip(t Type) error {
	start := r.pos
	switch t {
	case BOOL, BYTE:
		return r.skipN(1, "bool/byte")
	case I16:
		return r.skipN(2, "i16")
	case I32:
		return r.skipN(4, "i32")
	case I64, DOUBLE:
		return r.skipN(8, "i64/double")
	case STRING:
		_, err := r.ReadBinary()
		return err
	case STRUCT, LIST, SET, MAP:
		if err := r.enter(start); err != nil {
			return err
		}
		var err error
		switch t {
		case STRUCT:
			err = r.skipStruct()
		case MAP:
			err = r.skipMapGeneric()
		default:
			err = r.skipListGeneric()
		}
		r.leave()
		return err
	}
	return newErr("skip", start, ErrBadType)
}

func (r *Reader) skipStruct() error {
	for {
		ft, _, err := r.ReadFieldHeader()
		if err != nil {
			return err
		}
		if ft == STOP {
			return nil
		}
		if err := r.Skip(ft); err != nil {
			return err
		}
	}
}

func (r *Reader) skipListGeneric() error {
	et, n, err := r.ReadListHeader()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := r.Skip(et); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) skipMapGeneric() error {
	kt, vt, n, err := r.ReadMapHeader()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := r.Skip(kt); err != nil {
			return err
		}
		if err := r.Skip(vt); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) skipN(n int, op string) error {
	if err := r.need(n, op); err != nil {
		return err
	}
	r.pos += n
	return nil
}

func (r *Reader) enter(start int) error {
	max := r.MaxDepth
	if max <= 0 {
		max = DefaultMaxDepth
	}
	if r.depth >= max {
		return newErr("nested value", start, ErrDepth)
	}
	r.depth++
	return nil
}

func (r *Reader) leave() { r.depth-- }

// ReadStruct reads the fields of a struct up to its STOP, handing each
// field's type and id to f, which reads the value and reports handled, or
// reports false to have the field skipped by its wire type (Skip: rDSN
// special types need a schema, see SkipSchema). It is the field loop every
// hand-written struct decoder shares.
func (r *Reader) ReadStruct(f func(typ Type, id int16) (handled bool, err error)) error {
	for {
		typ, id, err := r.ReadFieldHeader()
		if err != nil {
			return err
		}
		if typ == STOP {
			return nil
		}
		ok, err := f(typ, id)
		if err != nil {
			return err
		}
		if !ok {
			if err := r.Skip(typ); err != nil {
				return err
			}
		}
	}
}
