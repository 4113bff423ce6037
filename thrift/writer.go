package thrift

import (
	"encoding/binary"
	"math"
)

// Writer appends thrift binary-protocol values to B. The zero value is ready
// to use; set B to a reused buffer (B[:0]) to avoid allocation.
type Writer struct {
	B []byte
}

// FieldHeader appends a field header.
func (w *Writer) FieldHeader(t Type, id int16) {
	w.B = append(w.B, byte(t), byte(uint16(id)>>8), byte(id))
}

// Stop appends the STOP byte that ends a struct.
func (w *Writer) Stop() { w.B = append(w.B, byte(STOP)) }

// Bool appends a bool.
func (w *Writer) Bool(v bool) {
	if v {
		w.B = append(w.B, 1)
	} else {
		w.B = append(w.B, 0)
	}
}

// I8 appends an i8.
func (w *Writer) I8(v int8) { w.B = append(w.B, byte(v)) }

// I16 appends a big-endian i16.
func (w *Writer) I16(v int16) { w.B = binary.BigEndian.AppendUint16(w.B, uint16(v)) }

// I32 appends a big-endian i32.
func (w *Writer) I32(v int32) { w.B = binary.BigEndian.AppendUint32(w.B, uint32(v)) }

// I64 appends a big-endian i64.
func (w *Writer) I64(v int64) { w.B = binary.BigEndian.AppendUint64(w.B, uint64(v)) }

// Double appends a big-endian double.
func (w *Writer) Double(v float64) { w.I64(int64(math.Float64bits(v))) }

// Binary appends an i32 length and the bytes.
func (w *Writer) Binary(v []byte) {
	w.I32(int32(len(v)))
	w.B = append(w.B, v...)
}

// String appends a string as binary.
func (w *Writer) String(v string) {
	w.I32(int32(len(v)))
	w.B = append(w.B, v...)
}

// Blob appends an rDSN blob payload (the caller writes the STRUCT field header).
func (w *Writer) Blob(v []byte) { w.Binary(v) }

// Gpid appends an rDSN gpid payload (wire.md §3).
func (w *Writer) Gpid(appID, partitionIndex int32) {
	w.I64(int64(uint64(uint32(partitionIndex))<<32 | uint64(uint32(appID))))
}

// RPCAddress appends an rDSN rpc_address payload.
func (w *Writer) RPCAddress(v uint64) { w.I64(int64(v)) }

// HostPort appends an rDSN host_port payload: host, port, type.
func (w *Writer) HostPort(host string, port uint16, typ int8) {
	w.String(host)
	w.I16(int16(port))
	w.I8(typ)
}

// ListHeader appends a list header.
func (w *Writer) ListHeader(elem Type, n int) {
	w.B = append(w.B, byte(elem))
	w.I32(int32(n))
}

// SetHeader appends a set header.
func (w *Writer) SetHeader(elem Type, n int) { w.ListHeader(elem, n) }

// MapHeader appends a map header.
func (w *Writer) MapHeader(key, val Type, n int) {
	w.B = append(w.B, byte(key), byte(val))
	w.I32(int32(n))
}

// MessageBegin appends a strict TMessage header.
func (w *Writer) MessageBegin(name string, typ int, seqID int32) {
	w.I32(int32(uint32(strictVersion) | uint32(typ)))
	w.String(name)
	w.I32(seqID)
}

// WrapperBegin appends rDSN's one-field wrapper header (wire.md §1.9); field
// id 0 for RDSN bodies and results, 1 for THFT args.
func (w *Writer) WrapperBegin(t Type, id int16) { w.FieldHeader(t, id) }

// WrapperEnd appends the wrapper's STOP.
func (w *Writer) WrapperEnd() { w.Stop() }
