package codec

import "fmt"

// Framing is the message framing of one connection (wire.md §0.1).
type Framing uint8

const (
	// FramingUnknown: not detected yet.
	FramingUnknown Framing = iota
	// FramingRDSN: native rDSN framing, 192-byte LE header (wire.md §1).
	FramingRDSN
	// FramingTHFT: thrift framing; requests carry a THFT header, responses
	// a length prefix (wire.md §2).
	FramingTHFT
)

func (f Framing) String() string {
	switch f {
	case FramingUnknown:
		return "unknown"
	case FramingRDSN:
		return "RDSN"
	case FramingTHFT:
		return "THFT"
	}
	return fmt.Sprintf("Framing(%d)", uint8(f))
}

// Sizes and limits.
const (
	// RDSNHeaderSize is sizeof(message_header) (wire.md §1.1).
	RDSNHeaderSize = 192
	// THFTv0HeaderSize is the v0 request header size, also its required
	// hdr_length (wire.md §2.1).
	THFTv0HeaderSize = 48
	// THFTv1FixedSize is the fixed part of a v1 request header, before the
	// meta struct (wire.md §2.2).
	THFTv1FixedSize = 16
	// DefaultMaxFrameSize bounds a whole frame (header + body) when
	// Decoder.MaxFrameSize is 0.
	DefaultMaxFrameSize = 64 << 20
	// MaxNameLen is the longest rpc_name / error_name an RDSN header holds:
	// char[48], NUL-terminated (wire.md §1.1).
	MaxNameLen = 47
)

// The framing signatures of wire.md §0.1.
const (
	magicRDSN = "RDSN"
	magicTHFT = "THFT"
)

// DetectFraming picks a server connection's framing from its first four
// bytes (wire.md §0.1). It returns ErrNeedMore with fewer than four bytes,
// ErrUnsupportedFraming for HTTP and _RAW, and ErrBadMagic otherwise.
func DetectFraming(first []byte) (Framing, error) {
	if len(first) < 4 {
		return FramingUnknown, ErrNeedMore
	}
	switch string(first[:4]) {
	case magicRDSN:
		return FramingRDSN, nil
	case magicTHFT:
		return FramingTHFT, nil
	case "GET ", "POST", "_RAW":
		return FramingUnknown, newErr(FramingUnknown, "signature", 0, ErrUnsupportedFraming, fmt.Sprintf("%q", first[:4]))
	}
	return FramingUnknown, newErr(FramingUnknown, "signature", 0, ErrBadMagic, fmt.Sprintf("% x", first[:4]))
}

// RDSN context bits (wire.md §1.2).
const (
	ContextIsRequest        uint64 = 0x001
	ContextIsForwarded      uint64 = 0x002
	ContextSerializeMask    uint64 = 0x3C0
	ContextSerializeShift          = 6
	ContextForwardSupported uint64 = 0x400
	ContextBackupRequest    uint64 = 0x800
	SerializeThriftBinary          = 1 // DSF_THRIFT_BINARY
	SerializeThriftJSON            = 3 // DSF_THRIFT_JSON
	serializeBinaryBits     uint64 = SerializeThriftBinary << ContextSerializeShift
	ContextClientRequest    uint64 = ContextIsRequest | serializeBinaryBits                           // 0x041 (§1.11)
	ContextCppRequest       uint64 = ContextIsRequest | serializeBinaryBits | ContextForwardSupported // 0x441
)
