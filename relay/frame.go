package relay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the relay protocol version this build speaks (docs/relay.md §2.3).
const Version = 1

// magic opens every HELLO.
const magic = "DBRL"

// Frame types (docs/relay.md §2.2).
const (
	TypeHello    byte = 1
	TypeWelcome  byte = 2
	TypeRefuse   byte = 3
	TypeLayout   byte = 4
	TypeShipment byte = 5
	TypeAck      byte = 6
	TypePing     byte = 7
)

// frameSlack is what a SHIPMENT frame holds besides its compressed data.
const frameSlack = 64

// ErrProtocol is wrapped by every error about a malformed frame or message.
var ErrProtocol = errors.New("relay: protocol error")

// AppendFrame appends a frame of type typ around body.
func AppendFrame(dst []byte, typ byte, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)+1))
	dst = append(dst, typ)
	return append(dst, body...)
}

// ReadFrame reads one frame from r into buf (grown as needed) and returns
// its type and body (aliasing buf). A length of 0 or above max+frameSlack is
// refused before anything is allocated.
func ReadFrame(r io.Reader, buf []byte, max int) (typ byte, body, newBuf []byte, err error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:4]); err != nil {
		return 0, nil, buf, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n == 0 || int64(n) > int64(max)+frameSlack {
		return 0, nil, buf, fmt.Errorf("%w: frame length %d (limit %d)", ErrProtocol, n, max+frameSlack)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, buf, err
	}
	return buf[0], buf[1:], buf, nil
}

// reader decodes big-endian fields with a sticky error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = fmt.Errorf("%w: message truncated", ErrProtocol)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) str() string { return string(r.take(int(r.u16()))) }

// end reports the sticky error, or one for trailing bytes.
func (r *reader) end(what string) error {
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrProtocol, len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%s: %w", what, r.err)
	}
	return nil
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// Hello opens a connection (edge → sink).
type Hello struct {
	Version     uint16
	Token       string
	Table       string
	Incarnation uint64 // the edge spool's id (docs/relay.md §1.1)
	DictID      uint32 // 0: no dictionary
}

// Append encodes h as a frame.
func (h *Hello) Append(dst []byte) []byte {
	b := append([]byte(magic), 0, 0)
	binary.BigEndian.PutUint16(b[4:], h.Version)
	b = appendStr(b, h.Token)
	b = appendStr(b, h.Table)
	b = binary.BigEndian.AppendUint64(b, h.Incarnation)
	b = binary.BigEndian.AppendUint32(b, h.DictID)
	return AppendFrame(dst, TypeHello, b)
}

// DecodeHello decodes a HELLO body. A wrong magic is an error; a different
// version decodes (the caller refuses it with both versions named).
func DecodeHello(body []byte) (Hello, error) {
	r := reader{b: body}
	if string(r.take(len(magic))) != magic {
		return Hello{}, fmt.Errorf("hello: %w: not a dupbridge relay peer (bad magic)", ErrProtocol)
	}
	h := Hello{Version: r.u16()}
	if h.Version != Version {
		return h, nil // the rest may differ in another version
	}
	h.Token, h.Table, h.Incarnation, h.DictID = r.str(), r.str(), r.u64(), r.u32()
	return h, r.end("hello")
}

// Welcome accepts a connection (sink → edge).
type Welcome struct {
	Version uint16
	DictID  uint32
}

// Append encodes w as a frame.
func (w *Welcome) Append(dst []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, w.Version)
	return AppendFrame(dst, TypeWelcome, binary.BigEndian.AppendUint32(b, w.DictID))
}

// DecodeWelcome decodes a WELCOME body.
func DecodeWelcome(body []byte) (Welcome, error) {
	r := reader{b: body}
	w := Welcome{Version: r.u16(), DictID: r.u32()}
	return w, r.end("welcome")
}

// AppendRefuse encodes a REFUSE frame.
func AppendRefuse(dst []byte, reason string) []byte {
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	return AppendFrame(dst, TypeRefuse, appendStr(nil, reason))
}

// DecodeRefuse decodes a REFUSE body.
func DecodeRefuse(body []byte) (string, error) {
	r := reader{b: body}
	s := r.str()
	return s, r.end("refuse")
}

// AppendLayout encodes a LAYOUT frame: the follower partition count.
func AppendLayout(dst []byte, count int32) []byte {
	return AppendFrame(dst, TypeLayout, binary.BigEndian.AppendUint32(nil, uint32(count)))
}

// DecodeLayout decodes a LAYOUT body.
func DecodeLayout(body []byte) (int32, error) {
	r := reader{b: body}
	n := int32(r.u32())
	if err := r.end("layout"); err != nil {
		return 0, err
	}
	if n < 0 || n > 1<<16 {
		return 0, fmt.Errorf("layout: %w: partition count %d", ErrProtocol, n)
	}
	return n, nil
}

// AppendAck encodes an ACK frame.
func AppendAck(dst []byte, lsn uint64) []byte {
	return AppendFrame(dst, TypeAck, binary.BigEndian.AppendUint64(nil, lsn))
}

// DecodeAck decodes an ACK body.
func DecodeAck(body []byte) (uint64, error) {
	r := reader{b: body}
	n := r.u64()
	return n, r.end("ack")
}

// FlagResend marks a shipment whose records may have reached the sink
// before (docs/relay.md §2.7).
const FlagResend = 1

// ShipmentHeader is a SHIPMENT's header; Data, the zstd frame, follows.
type ShipmentHeader struct {
	Flags    uint8
	FirstLSN uint64
	Records  uint32
	RawLen   uint32
}

const shipmentHeaderLen = 1 + 8 + 4 + 4

// AppendShipment encodes a SHIPMENT frame.
func AppendShipment(dst []byte, h ShipmentHeader, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+shipmentHeaderLen+len(data)))
	dst = append(dst, TypeShipment, h.Flags)
	dst = binary.BigEndian.AppendUint64(dst, h.FirstLSN)
	dst = binary.BigEndian.AppendUint32(dst, h.Records)
	dst = binary.BigEndian.AppendUint32(dst, h.RawLen)
	return append(dst, data...)
}

// DecodeShipment decodes a SHIPMENT body; data aliases body.
func DecodeShipment(body []byte) (h ShipmentHeader, data []byte, err error) {
	r := reader{b: body}
	h = ShipmentHeader{Flags: r.u8(), FirstLSN: r.u64(), Records: r.u32(), RawLen: r.u32()}
	if r.err != nil {
		return h, nil, fmt.Errorf("shipment: %w", r.err)
	}
	if h.Records == 0 || h.FirstLSN == 0 {
		return h, nil, fmt.Errorf("shipment: %w: %d records from LSN %d", ErrProtocol, h.Records, h.FirstLSN)
	}
	return h, r.b, nil
}
