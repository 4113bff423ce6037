package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/dupbridge/dupbridge/thrift"
)

// castagnoli is the CRC-32C table of wire.md §1.7 (read-only; the standard
// library caches it and uses the CPU's CRC32 instruction where it can).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// zeroCRCField stands in for hdr_crc32 while the header CRC is computed.
// Read-only; a package-level array because a local one escapes through
// crc32.Update and would cost an allocation per frame.
var zeroCRCField [4]byte

// CRC32C is dsn::utils::crc32_calc with init 0: the standard CRC-32C
// (wire.md §1.7; "123456789" gives 0xE3069283).
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Decoder splits one connection's byte stream into frames. The zero value
// decodes requests (RoleServer) of a framing detected from the first four
// bytes, with frames up to DefaultMaxFrameSize.
//
// A Decoder is per connection and not safe for concurrent use: Decode stores
// the detected framing in Framing.
type Decoder struct {
	// Role: RoleServer decodes requests, RoleClient responses. RDSN frames
	// decode the same in both roles (the context bit says which it is; a
	// forwarded response can arrive on a server port, wire.md §1.10).
	Role Role
	// MaxFrameSize bounds header + body; DefaultMaxFrameSize when <= 0. It is
	// checked as soon as a frame's length is visible, before the caller needs
	// to buffer the rest.
	MaxFrameSize int
	// Framing is the connection's framing. When FramingUnknown, the first
	// Decode detects it: RoleServer per DetectFraming; RoleClient takes
	// "RDSN" as RDSN and anything else as a THFT response (THFT responses
	// have no signature, wire.md §2.5).
	Framing Framing
}

func (d *Decoder) max() int {
	if d.MaxFrameSize <= 0 {
		return DefaultMaxFrameSize
	}
	return d.MaxFrameSize
}

// framing is d.Framing, or the framing detected from the first four bytes
// of buf while that is FramingUnknown (see Decoder.Framing).
func (d *Decoder) framing(buf []byte) (Framing, error) {
	if d.Framing != FramingUnknown {
		return d.Framing, nil
	}
	if d.Role != RoleClient {
		return DetectFraming(buf)
	}
	if len(buf) < 4 {
		return FramingUnknown, ErrNeedMore
	}
	if string(buf[:4]) == magicRDSN {
		return FramingRDSN, nil
	}
	return FramingTHFT, nil
}

// Decode decodes the frame at the start of buf. It returns the frame and the
// number of bytes it occupies; ErrNeedMore (with n == 0) when buf holds only
// a prefix of a frame; or an *Error (ErrBadMagic, ErrFrameTooLarge, ErrBadCRC,
// ErrBadHeader, ErrBadVersion, ErrBadMessage, ErrUnsupportedFraming), after
// which the stream cannot be resynchronised. The frame's slices alias buf.
// Decode allocates nothing unless it returns an *Error.
func (d *Decoder) Decode(buf []byte) (Frame, int, error) {
	f, err := d.framing(buf)
	if err != nil {
		return Frame{}, 0, err
	}
	d.Framing = f
	switch {
	case f == FramingRDSN:
		return decodeRDSN(buf, d.max())
	case f == FramingTHFT && d.Role == RoleClient:
		return decodeTHFTResponse(buf, d.max())
	case f == FramingTHFT:
		return decodeTHFTRequest(buf, d.max())
	}
	return Frame{}, 0, newErr(f, "framing", 0, ErrUnsupportedFraming, "")
}

// FrameSize reports the total size of the frame at the start of buf as soon
// as its header shows it (ErrNeedMore before that), so that a caller can
// size its buffer. It checks the magic and MaxFrameSize, nothing else.
func (d *Decoder) FrameSize(buf []byte) (int, error) {
	f, err := d.framing(buf)
	if err != nil {
		return 0, err
	}
	switch {
	case f == FramingRDSN:
		return rdsnSize(buf, d.max())
	case f == FramingTHFT && d.Role == RoleClient:
		return thftResponseSize(buf, d.max())
	default:
		return thftRequestSize(buf, d.max())
	}
}

// checkMagic reports ErrBadMagic as soon as the visible bytes cannot be the
// start of magic, and ErrNeedMore while they still could be.
func checkMagic(buf []byte, magic string, f Framing) error {
	n := min(len(buf), 4)
	if string(buf[:n]) != magic[:n] {
		return newErr(f, "magic", 0, ErrBadMagic, fmt.Sprintf("% x", buf[:n]))
	}
	if n < 4 {
		return ErrNeedMore
	}
	return nil
}

func tooLarge(f Framing, size uint64, max int) error {
	return newErr(f, "frame size", 0, ErrFrameTooLarge, fmt.Sprintf("%d > limit %d", size, max))
}

// cName returns a NUL-terminated char[48] field up to its NUL.
func cName(field []byte) ([]byte, bool) {
	i := bytes.IndexByte(field, 0)
	if i < 0 {
		return nil, false
	}
	return field[:i:i], true
}

// --- RDSN (wire.md §1) ---

// rdsnSize returns 192 + body_length once 20 bytes are visible.
func rdsnSize(buf []byte, max int) (int, error) {
	if err := checkMagic(buf, magicRDSN, FramingRDSN); err != nil {
		return 0, err
	}
	if len(buf) < 20 {
		return 0, ErrNeedMore
	}
	size := uint64(RDSNHeaderSize) + uint64(binary.LittleEndian.Uint32(buf[16:]))
	if size > uint64(max) {
		return 0, tooLarge(FramingRDSN, size, max)
	}
	return int(size), nil
}

// rdsnHeaderCRC is the CRC-32C of the 192 header bytes with hdr_crc32
// taken as zero (wire.md §1.7).
func rdsnHeaderCRC(h []byte) uint32 {
	c := crc32.Update(0, castagnoli, h[:12])
	c = crc32.Update(c, castagnoli, zeroCRCField[:])
	return crc32.Update(c, castagnoli, h[16:RDSNHeaderSize])
}

func decodeRDSN(buf []byte, max int) (Frame, int, error) {
	size, err := rdsnSize(buf, max)
	if err != nil {
		return Frame{}, 0, err
	}
	if len(buf) < RDSNHeaderSize {
		return Frame{}, 0, ErrNeedMore
	}
	le := binary.LittleEndian
	h := buf[:RDSNHeaderSize]
	// hdr_version and hdr_length are not checked, as in C++ (wire.md §1.1, §1.8).
	hdrCRC := le.Uint32(h[12:])
	if hdrCRC != 0 {
		if got := rdsnHeaderCRC(h); got != hdrCRC {
			return Frame{}, 0, newErr(FramingRDSN, "hdr_crc32", 0, ErrBadCRC, fmt.Sprintf("header says %#08x, computed %#08x", hdrCRC, got))
		}
	}
	name, ok := cName(h[40:88])
	if !ok {
		return Frame{}, 0, newErr(FramingRDSN, "rpc_name", 0, ErrBadHeader, "not NUL-terminated")
	}
	errName, ok := cName(h[136:184])
	if !ok {
		return Frame{}, 0, newErr(FramingRDSN, "error_name", 0, ErrBadHeader, "not NUL-terminated")
	}
	if len(buf) < size {
		return Frame{}, 0, ErrNeedMore
	}
	body := buf[RDSNHeaderSize:size:size]
	bodyCRC := le.Uint32(h[20:])
	if bodyCRC != 0 {
		if got := CRC32C(body); got != bodyCRC {
			return Frame{}, 0, newErr(FramingRDSN, "body_crc32", 0, ErrBadCRC, fmt.Sprintf("header says %#08x, computed %#08x", bodyCRC, got))
		}
	}
	ctx := le.Uint64(h[104:])
	fr := Frame{
		Header: Header{
			Framing:         FramingRDSN,
			IsRequest:       ctx&ContextIsRequest != 0,
			ID:              le.Uint64(h[24:]),
			TraceID:         le.Uint64(h[32:]),
			RPCName:         name,
			AppID:           int32(le.Uint32(h[96:])),
			PartitionIndex:  int32(le.Uint32(h[100:])),
			Context:         ctx,
			FromAddress:     le.Uint64(h[112:]),
			TimeoutMs:       int32(le.Uint32(h[120:])),
			ThreadHash:      int32(le.Uint32(h[124:])),
			PartitionHash:   le.Uint64(h[128:]),
			ErrorName:       errName,
			IsBackupRequest: ctx&ContextBackupRequest != 0,
			HdrCRC:          hdrCRC,
			BodyCRC:         bodyCRC,
		},
		Raw:     buf[:size:size],
		Body:    body,
		Message: body,
	}
	return fr, size, nil
}

// --- THFT requests (wire.md §2.1–2.3) ---

// thftRequestSize returns the request's total size once its fixed header
// shows it, checking magic, version and (v0) hdr_length first.
func thftRequestSize(buf []byte, max int) (int, error) {
	if err := checkMagic(buf, magicTHFT, FramingTHFT); err != nil {
		return 0, err
	}
	if len(buf) < 8 {
		return 0, ErrNeedMore
	}
	be := binary.BigEndian
	var size uint64
	switch v := be.Uint32(buf[4:]); v {
	case 0:
		if len(buf) < 12 {
			return 0, ErrNeedMore
		}
		if hl := be.Uint32(buf[8:]); hl != THFTv0HeaderSize {
			return 0, newErr(FramingTHFT, "hdr_length", 0, ErrBadHeader, fmt.Sprintf("%d, want 48", hl))
		}
		if len(buf) < 20 {
			return 0, ErrNeedMore
		}
		size = THFTv0HeaderSize + uint64(be.Uint32(buf[16:]))
	case 1:
		if len(buf) < THFTv1FixedSize {
			return 0, ErrNeedMore
		}
		size = THFTv1FixedSize + uint64(be.Uint32(buf[8:])) + uint64(be.Uint32(buf[12:]))
	default:
		return 0, newErr(FramingTHFT, "hdr_version", 0, ErrBadVersion, fmt.Sprintf("%d", v))
	}
	if size > uint64(max) {
		return 0, tooLarge(FramingTHFT, size, max)
	}
	return int(size), nil
}

func decodeTHFTRequest(buf []byte, max int) (Frame, int, error) {
	size, err := thftRequestSize(buf, max)
	if err != nil {
		return Frame{}, 0, err
	}
	if len(buf) < size {
		return Frame{}, 0, ErrNeedMore
	}
	be := binary.BigEndian
	h := Header{Framing: FramingTHFT, IsRequest: true}
	var msgStart int
	if be.Uint32(buf[4:]) == 0 {
		h.HdrCRC = be.Uint32(buf[12:]) // parsed, never verified (wire.md §2.1)
		h.BodyCRC = be.Uint32(buf[20:])
		h.AppID = int32(be.Uint32(buf[24:]))
		h.PartitionIndex = int32(be.Uint32(buf[28:]))
		h.TimeoutMs = int32(be.Uint32(buf[32:]))
		h.ThreadHash = int32(be.Uint32(buf[36:]))
		h.PartitionHash = be.Uint64(buf[40:])
		msgStart = THFTv0HeaderSize
	} else {
		h.THFTVersion = 1
		metaEnd := THFTv1FixedSize + int(be.Uint32(buf[8:]))
		if err := parseMetaV1(buf[THFTv1FixedSize:metaEnd], &h); err != nil {
			return Frame{}, 0, wrapErr(FramingTHFT, "request meta", 0, ErrBadHeader, err)
		}
		h.ThreadHash = ThreadHash(h.AppID, h.PartitionIndex)
		msgStart = metaEnd
	}
	// The C++ server's internal context for a THFT request (wire.md §2.3).
	h.Context = ContextClientRequest
	if h.IsBackupRequest {
		h.Context |= ContextBackupRequest
	}
	msg := buf[msgStart:size:size]
	r := thrift.NewReader(msg)
	name, typ, seq, err := r.ReadMessageBegin()
	if err != nil {
		return Frame{}, 0, wrapErr(FramingTHFT, "request TMessage", msgStart, ErrBadMessage, err)
	}
	if typ != thrift.MessageCall && typ != thrift.MessageOneway {
		return Frame{}, 0, newErr(FramingTHFT, "request TMessage type", msgStart, ErrBadMessage, fmt.Sprintf("%d, want CALL or ONEWAY", typ))
	}
	// The C++ server strncpy's the name into the char[48] rpc_name and
	// dispatches on that (thrift_message_parser.cpp,
	// create_message_from_request_blob): up to the first NUL, at most 47
	// bytes. Message keeps the full TMessage.
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if len(name) > MaxNameLen {
		name = name[:MaxNameLen]
	}
	h.RPCName = name[:len(name):len(name)]
	h.ID = uint64(uint32(seq))
	h.MessageType = typ
	return Frame{Header: h, Raw: buf[:size:size], Body: msg[r.Pos():], Message: msg}, size, nil
}

// parseMetaV1 reads thrift_request_meta_v1 (wire.md §2.2). All fields are
// optional; a field of an unexpected type is skipped, as thrift-generated
// readers do.
func parseMetaV1(meta []byte, h *Header) error {
	r := thrift.NewReader(meta)
	return r.ReadStruct(func(typ thrift.Type, id int16) (bool, error) {
		var err error
		switch {
		case id == 1 && typ == thrift.I32:
			h.AppID, err = r.ReadI32()
		case id == 2 && typ == thrift.I32:
			h.PartitionIndex, err = r.ReadI32()
		case id == 3 && typ == thrift.I32:
			h.TimeoutMs, err = r.ReadI32()
		case id == 4 && typ == thrift.I64:
			var v int64
			v, err = r.ReadI64()
			h.PartitionHash = uint64(v)
		case id == 5 && typ == thrift.BOOL:
			h.IsBackupRequest, err = r.ReadBool()
		default:
			return false, nil
		}
		return true, err
	})
}

// --- THFT responses (wire.md §2.5) ---

func thftResponseSize(buf []byte, max int) (int, error) {
	if len(buf) < 4 {
		return 0, ErrNeedMore
	}
	n := int32(binary.BigEndian.Uint32(buf))
	if n < 4 {
		return 0, newErr(FramingTHFT, "response length", 0, ErrBadHeader, fmt.Sprintf("%d < 4", n))
	}
	if int64(n) > int64(max) {
		return 0, tooLarge(FramingTHFT, uint64(n), max)
	}
	return int(n), nil
}

func decodeTHFTResponse(buf []byte, max int) (Frame, int, error) {
	size, err := thftResponseSize(buf, max)
	if err != nil {
		return Frame{}, 0, err
	}
	if len(buf) < size {
		return Frame{}, 0, ErrNeedMore
	}
	r := thrift.NewReader(buf[4:size:size])
	errName, err := r.ReadString()
	if err != nil {
		return Frame{}, 0, wrapErr(FramingTHFT, "response error name", 4, ErrBadHeader, err)
	}
	if len(errName) == 0 {
		return Frame{}, 0, newErr(FramingTHFT, "response error name", 4, ErrBadHeader, "empty")
	}
	msgStart := 4 + r.Pos()
	name, typ, seq, err := r.ReadMessageBegin()
	if err != nil {
		return Frame{}, 0, wrapErr(FramingTHFT, "response TMessage", msgStart, ErrBadMessage, err)
	}
	if typ != thrift.MessageReply {
		return Frame{}, 0, newErr(FramingTHFT, "response TMessage type", msgStart, ErrBadMessage, fmt.Sprintf("%d, want REPLY", typ))
	}
	fr := Frame{
		Header: Header{
			Framing:     FramingTHFT,
			ID:          uint64(uint32(seq)),
			RPCName:     name,
			ErrorName:   errName,
			MessageType: typ,
		},
		Raw:     buf[:size:size],
		Body:    r.Rest(),
		Message: buf[msgStart:size:size],
	}
	return fr, size, nil
}
