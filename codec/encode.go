package codec

import (
	"encoding/binary"

	"github.com/dupbridge/dupbridge/thrift"
)

// Encoding. Every function appends to dst and allocates only when dst lacks
// capacity. "mark" is the offset in the returned slice where the frame
// starts; Finish* patches that frame's lengths (and CRCs) once the body has
// been appended after it.

// AppendRequest appends a whole request frame. body is the one-field wrapper
// struct: for RDSN the body (field id 0, wire.md §1.9); for THFT the args
// struct written after the TMessage header (field id 1, §2.3).
func AppendRequest(dst []byte, f Framing, h *RequestHeader, body []byte) []byte {
	b, mark := BeginRequest(dst, f, h)
	b = append(b, body...)
	return FinishRequest(b, mark)
}

// BeginRequest appends a request header (for THFT, also the TMessage CALL
// header) with zero lengths; append the body, then call FinishRequest.
// f must be FramingRDSN or FramingTHFT (anything else is taken as RDSN).
func BeginRequest(dst []byte, f Framing, h *RequestHeader) (b []byte, mark int) {
	mark = len(dst)
	if f == FramingTHFT {
		return beginTHFTRequest(dst, h), mark
	}
	return beginRDSNRequest(dst, h), mark
}

// FinishRequest patches the body length of the request frame starting at
// b[mark:] and, for an RDSN request begun with RequestHeader.CRC, computes
// both CRCs (wire.md §1.7).
func FinishRequest(b []byte, mark int) []byte {
	fr := b[mark:]
	be := binary.BigEndian
	switch string(fr[:4]) {
	case magicRDSN:
		finishRDSN(fr)
	case magicTHFT:
		if be.Uint32(fr[4:]) == 0 {
			be.PutUint32(fr[16:], uint32(len(fr)-THFTv0HeaderSize))
		} else {
			meta := int(be.Uint32(fr[8:]))
			be.PutUint32(fr[12:], uint32(len(fr)-THFTv1FixedSize-meta))
		}
	}
	return b
}

// crcPending is written into hdr_crc32 by BeginRequest when CRCs are wanted;
// FinishRequest replaces it with the real value.
const crcPending = 1

func finishRDSN(fr []byte) {
	le := binary.LittleEndian
	le.PutUint32(fr[16:], uint32(len(fr)-RDSNHeaderSize))
	if le.Uint32(fr[12:]) != 0 {
		le.PutUint32(fr[20:], CRC32C(fr[RDSNHeaderSize:]))
		// rdsnHeaderCRC takes hdr_crc32 as zero whatever it holds.
		le.PutUint32(fr[12:], rdsnHeaderCRC(fr[:RDSNHeaderSize]))
	}
}

func putCName(field []byte, name string) {
	n := copy(field[:MaxNameLen], name)
	clear(field[n:])
}

func beginRDSNRequest(dst []byte, h *RequestHeader) []byte {
	mark := len(dst)
	dst = append(dst, make([]byte, RDSNHeaderSize)...)
	hd := dst[mark:]
	le := binary.LittleEndian
	copy(hd, magicRDSN)
	le.PutUint32(hd[8:], RDSNHeaderSize)
	if h.CRC {
		le.PutUint32(hd[12:], crcPending)
	}
	le.PutUint64(hd[24:], h.ID)
	le.PutUint64(hd[32:], h.TraceID)
	putCName(hd[40:88], h.RPCName)
	le.PutUint32(hd[96:], uint32(h.AppID))
	le.PutUint32(hd[100:], uint32(h.PartitionIndex))
	ctx := h.Context
	if ctx == 0 {
		ctx = ContextClientRequest
	}
	ctx |= ContextIsRequest
	if h.IsBackupRequest {
		ctx |= ContextBackupRequest
	}
	le.PutUint64(hd[104:], ctx)
	le.PutUint64(hd[112:], h.FromAddress)
	le.PutUint32(hd[120:], uint32(h.TimeoutMs))
	le.PutUint32(hd[124:], uint32(h.ThreadHash))
	le.PutUint64(hd[128:], h.PartitionHash)
	return dst
}

func beginTHFTRequest(dst []byte, h *RequestHeader) []byte {
	w := thrift.Writer{B: dst}
	w.B = append(w.B, magicTHFT...)
	if h.THFTVersion == 1 {
		// wire.md §2.2: version, meta_length, body_length, meta. All five
		// meta fields are written, as java-client does.
		w.I32(1)
		metaLenAt := len(w.B)
		w.I32(0)
		w.I32(0)
		metaStart := len(w.B)
		w.FieldHeader(thrift.I32, 1)
		w.I32(h.AppID)
		w.FieldHeader(thrift.I32, 2)
		w.I32(h.PartitionIndex)
		w.FieldHeader(thrift.I32, 3)
		w.I32(h.TimeoutMs)
		w.FieldHeader(thrift.I64, 4)
		w.I64(int64(h.PartitionHash))
		w.FieldHeader(thrift.BOOL, 5)
		w.Bool(h.IsBackupRequest)
		w.Stop()
		binary.BigEndian.PutUint32(w.B[metaLenAt:], uint32(len(w.B)-metaStart))
	} else {
		// wire.md §2.1: 48 bytes; the CRC fields are never verified, send 0.
		w.I32(0)
		w.I32(THFTv0HeaderSize)
		w.I32(0)
		w.I32(0) // body_length, patched
		w.I32(0)
		w.I32(h.AppID)
		w.I32(h.PartitionIndex)
		w.I32(h.TimeoutMs)
		w.I32(h.ThreadHash)
		w.I64(int64(h.PartitionHash))
	}
	w.MessageBegin(h.RPCName, thrift.MessageCall, int32(uint32(h.ID)))
	return w.B
}

// AppendResponse appends a whole response to req (wire.md §1.10 for RDSN,
// §2.5 for THFT). body is the result wrapper (field id 0); pass nil with an
// RPC-level error that has no body. from is our address for the RDSN
// from_address (0 is tolerated).
func AppendResponse(dst []byte, req *Frame, errName string, from uint64, body []byte) []byte {
	b, mark := BeginResponse(dst, req, errName, from)
	b = append(b, body...)
	return FinishResponse(b, mark)
}

// BeginResponse appends the header of a response to req, in req's framing;
// append the body, then call FinishResponse. An empty errName is sent as
// ERR_OK (a THFT error name is never empty, wire.md §2.5).
//
// RDSN (wire.md §1.10): the request's 192 header bytes are copied; then
// is_request is cleared, rpc_name becomes name+"_ACK", both fast_codes and
// CRCs are zeroed, from_address is set to from and error_name to errName.
// THFT (§2.5): length placeholder, error name, TMessage REPLY with
// name+"_ACK" and the request's seqid.
func BeginResponse(dst []byte, req *Frame, errName string, from uint64) (b []byte, mark int) {
	if errName == "" {
		errName = ErrorOK
	}
	mark = len(dst)
	if req.Framing == FramingTHFT {
		w := thrift.Writer{B: dst}
		w.I32(0) // total length, patched
		w.String(errName)
		w.B = binary.BigEndian.AppendUint32(w.B, 0x80010000|thrift.MessageReply) // strict REPLY
		lenAt := len(w.B)
		w.I32(0)
		w.B = AppendAckName(w.B, req.RPCName)
		binary.BigEndian.PutUint32(w.B[lenAt:], uint32(len(w.B)-lenAt-4))
		w.I32(int32(uint32(req.ID)))
		return w.B, mark
	}
	le := binary.LittleEndian
	if len(req.Raw) >= RDSNHeaderSize && string(req.Raw[:4]) == magicRDSN {
		dst = append(dst, req.Raw[:RDSNHeaderSize]...)
	} else {
		// No raw request header (e.g. a Frame built by hand): rebuild it
		// from the decoded fields.
		rh := RequestHeader{
			ID: req.ID, TraceID: req.TraceID, AppID: req.AppID, PartitionIndex: req.PartitionIndex,
			Context: req.Context, TimeoutMs: req.TimeoutMs, ThreadHash: req.ThreadHash,
			PartitionHash: req.PartitionHash,
		}
		dst = beginRDSNRequest(dst, &rh)
	}
	hd := dst[mark:]
	clear(hd[12:24]) // hdr_crc32, body_length, body_crc32
	var ack [MaxNameLen]byte
	n := len(AppendAckName(ack[:0], req.RPCName))
	copy(hd[40:88], ack[:n])
	clear(hd[40+n : 88])
	clear(hd[88:96]) // rpc_code
	le.PutUint64(hd[104:], le.Uint64(hd[104:])&^ContextIsRequest)
	le.PutUint64(hd[112:], from)
	putCName(hd[136:184], errName)
	clear(hd[184:192]) // error_code
	return dst, mark
}

// FinishResponse patches the lengths of the response starting at b[mark:].
// RDSN responses are sent without CRCs (wire.md §1.7).
func FinishResponse(b []byte, mark int) []byte {
	fr := b[mark:]
	if len(fr) >= RDSNHeaderSize && string(fr[:4]) == magicRDSN {
		binary.LittleEndian.PutUint32(fr[16:], uint32(len(fr)-RDSNHeaderSize))
		return b
	}
	binary.BigEndian.PutUint32(fr, uint32(len(fr)))
	return b
}
