package rpcclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/dupbridge/dupbridge/thrift"
)

// The client side of the two framings: request encoders and response
// parsers (wire.md §1.1, §1.7, §1.10, §2.1, §2.5). Only what a client needs.

const rdsnHeaderSize = 192

var errNeedMore = errors.New("need more bytes")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type reqHeader struct {
	id             uint64
	traceID        uint64
	rpcName        string
	appID          int32
	partitionIndex int32
	context        uint64
	from           uint64
	timeoutMs      int32
	threadHash     int32
	partitionHash  uint64
}

// appendRequest appends one request frame to dst.
func appendRequest(dst []byte, f Framing, h *reqHeader, body []byte) []byte {
	if f == THFTv0 {
		return appendTHFTv0(dst, h, body)
	}
	return appendRDSN(dst, h, body)
}

// appendRDSN writes the 192-byte header of wire.md §1.1 as §1.12 says a
// client fills it: CRCs and fast codes 0, rpc_name truncated to 47 bytes.
func appendRDSN(dst []byte, h *reqHeader, body []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, rdsnHeaderSize)...)
	hd := dst[start : start+rdsnHeaderSize]
	le := binary.LittleEndian
	copy(hd[0:4], "RDSN")
	le.PutUint32(hd[8:], rdsnHeaderSize)
	le.PutUint32(hd[16:], uint32(len(body)))
	le.PutUint64(hd[24:], h.id)
	le.PutUint64(hd[32:], h.traceID)
	name := h.rpcName
	if len(name) > 47 {
		name = name[:47]
	}
	copy(hd[40:88], name)
	le.PutUint32(hd[96:], uint32(h.appID))
	le.PutUint32(hd[100:], uint32(h.partitionIndex))
	le.PutUint64(hd[104:], h.context)
	le.PutUint64(hd[112:], h.from)
	le.PutUint32(hd[120:], uint32(h.timeoutMs))
	le.PutUint32(hd[124:], uint32(h.threadHash))
	le.PutUint64(hd[128:], h.partitionHash)
	return append(dst, body...)
}

// appendTHFTv0 writes the 48-byte BE header of wire.md §2.1, then a strict
// CALL TMessage header carrying the full task code name and the seqid
// (§2.3), then the body.
func appendTHFTv0(dst []byte, h *reqHeader, body []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, 48)...)
	w := thrift.Writer{B: dst}
	w.MessageBegin(h.rpcName, thrift.MessageCall, int32(h.id))
	w.B = append(w.B, body...)
	dst = w.B
	hd := dst[start : start+48]
	be := binary.BigEndian
	copy(hd[0:4], "THFT")
	be.PutUint32(hd[8:], 48)
	be.PutUint32(hd[16:], uint32(len(dst)-start-48))
	be.PutUint32(hd[24:], uint32(h.appID))
	be.PutUint32(hd[28:], uint32(h.partitionIndex))
	be.PutUint32(hd[32:], uint32(h.timeoutMs))
	be.PutUint32(hd[36:], uint32(h.threadHash))
	be.PutUint64(hd[40:], h.partitionHash)
	return dst
}

// respFrame is a parsed response; errName and body alias the input.
type respFrame struct {
	id      uint64
	errName []byte
	body    []byte
}

// parseResponse parses one response frame from the start of b. It returns
// the bytes consumed; with errNeedMore, n is the whole frame's size when the
// header says it (0 otherwise).
func parseResponse(b []byte, f Framing, maxFrame int) (respFrame, int, error) {
	if f == THFTv0 {
		return parseTHFTResponse(b, maxFrame)
	}
	return parseRDSNResponse(b, maxFrame)
}

func parseRDSNResponse(b []byte, maxFrame int) (respFrame, int, error) {
	if len(b) < 4 {
		return respFrame{}, 0, errNeedMore
	}
	if string(b[:4]) != "RDSN" {
		return respFrame{}, 0, fmt.Errorf("bad magic %q", b[:4])
	}
	if len(b) < rdsnHeaderSize {
		return respFrame{}, rdsnHeaderSize, errNeedMore
	}
	le := binary.LittleEndian
	bodyLen := int(le.Uint32(b[16:]))
	if bodyLen > maxFrame-rdsnHeaderSize || bodyLen < 0 {
		return respFrame{}, 0, fmt.Errorf("body_length %d exceeds the %d-byte frame limit", bodyLen, maxFrame)
	}
	total := rdsnHeaderSize + bodyLen
	if len(b) < total {
		return respFrame{}, total, errNeedMore
	}
	// wire.md §1.7: verify a CRC only when it is non-zero.
	if hc := le.Uint32(b[12:]); hc != 0 {
		var hd [rdsnHeaderSize]byte
		copy(hd[:], b[:rdsnHeaderSize])
		le.PutUint32(hd[12:], 0)
		if got := crc32.Checksum(hd[:], castagnoli); got != hc {
			return respFrame{}, 0, fmt.Errorf("header crc 0x%08x, computed 0x%08x", hc, got)
		}
	}
	body := b[rdsnHeaderSize:total]
	if bc := le.Uint32(b[20:]); bc != 0 {
		if got := crc32.Checksum(body, castagnoli); got != bc {
			return respFrame{}, 0, fmt.Errorf("body crc 0x%08x, computed 0x%08x", bc, got)
		}
	}
	if le.Uint64(b[104:])&ctxRequest != 0 {
		return respFrame{}, 0, errors.New("a request arrived on a client connection")
	}
	en := b[136:184]
	for i, c := range en {
		if c == 0 {
			en = en[:i]
			break
		}
	}
	return respFrame{id: le.Uint64(b[24:]), errName: en, body: body}, total, nil
}

// parseTHFTResponse parses wire.md §2.5: i32 total length (including
// itself), error string, REPLY TMessage header, body.
func parseTHFTResponse(b []byte, maxFrame int) (respFrame, int, error) {
	if len(b) < 4 {
		return respFrame{}, 0, errNeedMore
	}
	total := int(int32(binary.BigEndian.Uint32(b)))
	if total < 4 || total > maxFrame {
		return respFrame{}, 0, fmt.Errorf("THFT response length %d out of range", total)
	}
	if len(b) < total {
		return respFrame{}, total, errNeedMore
	}
	r := thrift.NewReader(b[4:total])
	en, err := r.ReadString()
	if err != nil {
		return respFrame{}, 0, fmt.Errorf("THFT response error name: %w", err)
	}
	_, typ, seq, err := r.ReadMessageBegin()
	if err != nil {
		return respFrame{}, 0, fmt.Errorf("THFT response message header: %w", err)
	}
	if typ != thrift.MessageReply {
		return respFrame{}, 0, fmt.Errorf("THFT response message type %d, want REPLY", typ)
	}
	return respFrame{id: uint64(uint32(seq)), errName: en, body: r.Rest()}, total, nil
}
