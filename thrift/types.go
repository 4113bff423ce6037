package thrift

// Type is a thrift binary-protocol type byte (wire.md §0.2).
type Type byte

const (
	STOP   Type = 0x00
	BOOL   Type = 0x02
	BYTE   Type = 0x03
	DOUBLE Type = 0x04
	I16    Type = 0x06
	I32    Type = 0x08
	I64    Type = 0x0A
	STRING Type = 0x0B
	STRUCT Type = 0x0C
	MAP    Type = 0x0D
	SET    Type = 0x0E
	LIST   Type = 0x0F
)

func (t Type) String() string {
	switch t {
	case STOP:
		return "STOP"
	case BOOL:
		return "BOOL"
	case BYTE:
		return "BYTE"
	case DOUBLE:
		return "DOUBLE"
	case I16:
		return "I16"
	case I32:
		return "I32"
	case I64:
		return "I64"
	case STRING:
		return "STRING"
	case STRUCT:
		return "STRUCT"
	case MAP:
		return "MAP"
	case SET:
		return "SET"
	case LIST:
		return "LIST"
	}
	return "Type(0x" + hex2(byte(t)) + ")"
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// Valid reports whether t is a type byte that may start a value.
func (t Type) Valid() bool {
	switch t {
	case BOOL, BYTE, DOUBLE, I16, I32, I64, STRING, STRUCT, MAP, SET, LIST:
		return true
	}
	return false
}

// minSize is the smallest encoding of one value of type t; used to reject
// list/map counts that cannot fit in the remaining bytes before looping.
func (t Type) minSize() int {
	switch t {
	case BOOL, BYTE:
		return 1
	case I16:
		return 2
	case I32:
		return 4
	case DOUBLE, I64:
		return 8
	case STRING:
		return 4
	case STRUCT:
		return 1 // an empty struct is one STOP byte
	case MAP:
		return 6
	case SET, LIST:
		return 5
	}
	return 1
}

// Message types of a TMessage header.
const (
	MessageCall      = 1
	MessageReply     = 2
	MessageException = 3
	MessageOneway    = 4
)

// strictVersion is the high half of a strict TMessage header's first i32.
const (
	strictVersion = 0x80010000
	versionMask   = 0xffff0000
)
