package codec

// Header is a decoded frame header. Slices point into the decoded buffer.
//
// Which fields are set depends on the framing (wire.md §6.4):
//   - RDSN carries every field on the wire (§1.1).
//   - THFT requests carry gpid, timeout, partition_hash and (v0) thread_hash
//     in their header or meta (§2.1, §2.2); ID is the TMessage seqid, and
//     Context is synthesized as the C++ server does (§2.3): request, thrift
//     binary, plus the backup-request bit from the v1 meta.
//   - THFT responses carry only the error name, the response name and the
//     seqid (§2.5).
type Header struct {
	Framing   Framing
	IsRequest bool
	// ID is the RDSN id, or the THFT seqid as uint64(uint32(seqid)).
	ID      uint64
	TraceID uint64
	// RPCName is the rpc_name up to its NUL (RDSN); for a THFT request the
	// TMessage name as the C++ server keeps it (up to a NUL, at most 47
	// bytes; wire.md §2.3); for a THFT response the whole TMessage name.
	RPCName        []byte
	AppID          int32
	PartitionIndex int32
	Context        uint64
	FromAddress    uint64
	TimeoutMs      int32
	ThreadHash     int32
	PartitionHash  uint64
	// ErrorName is the RPC-level error of a response (RDSN server.error_name,
	// THFT error string); empty in requests.
	ErrorName []byte
	// THFTVersion is the THFT request header version (0 or 1).
	THFTVersion     int
	IsBackupRequest bool
	// MessageType is the THFT TMessage type (thrift.MessageCall, ...).
	MessageType int
	// HdrCRC and BodyCRC are the RDSN CRC fields as received (0 = none);
	// Decode verified every non-zero one.
	HdrCRC, BodyCRC uint32
}

// SerializeFormat is the RDSN context's body encoding (wire.md §1.2); 1 is
// thrift binary, the only one dupbridge speaks. THFT frames report 1.
func (h *Header) SerializeFormat() int {
	return int((h.Context & ContextSerializeMask) >> ContextSerializeShift)
}

// Frame is one decoded frame. All slices point into the buffer given to
// Decode and are valid as long as it is.
type Frame struct {
	Header
	// Raw is the whole frame.
	Raw []byte
	// Body is the one-field wrapper struct (wire.md §1.9): the RDSN body; for
	// a THFT request the args struct after the TMessage header (§2.3); for a
	// THFT response the result struct after its TMessage header, empty when
	// the RPC-level error came without a body (§2.5).
	Body []byte
	// Message is, for THFT frames, the bytes from the TMessage header to the
	// end of the frame (what a C++ server keeps as the request body); for
	// RDSN it equals Body.
	Message []byte
}

// Role is the direction a Decoder decodes.
type Role uint8

const (
	// RoleServer decodes requests (the connection's peer is a client).
	RoleServer Role = iota
	// RoleClient decodes responses (we are the client).
	RoleClient
)

func (r Role) String() string {
	if r == RoleClient {
		return "client"
	}
	return "server"
}

// RequestHeader describes a request to encode.
type RequestHeader struct {
	// ID is the RDSN id; THFT sends int32(ID) as the seqid.
	ID      uint64
	TraceID uint64 // RDSN only
	RPCName string
	// AppID and PartitionIndex: the gpid; (0, 0) for meta RPCs (wire.md §1.3).
	AppID          int32
	PartitionIndex int32
	// Context is the RDSN context; 0 means ContextClientRequest (0x041).
	// The is_request bit is always set.
	Context       uint64
	FromAddress   uint64 // RDSN only; 0 is tolerated by C++ peers
	TimeoutMs     int32
	ThreadHash    int32 // RDSN and THFT v0; v1 receivers derive it (§2.2)
	PartitionHash uint64
	// THFTVersion is the THFT header version to write: 0 or 1.
	THFTVersion int
	// IsBackupRequest: RDSN context bit 11, THFT v1 meta field 5.
	IsBackupRequest bool
	// CRC makes an RDSN request carry both CRCs (wire.md §1.7); off by
	// default, as Pegasus sends them.
	CRC bool
}
