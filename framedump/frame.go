package framedump

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/dupbridge/dupbridge/codec"
)

type frameJSON struct {
	Offset        int             `json:"offset"`
	Framing       string          `json:"framing"`
	Kind          string          `json:"kind"`
	RPCName       string          `json:"rpc_name"`
	ID            uint64          `json:"id"`
	TraceID       string          `json:"trace_id,omitempty"`
	Gpid          string          `json:"gpid,omitempty"`
	Context       string          `json:"context,omitempty"`
	Flags         *contextJSON    `json:"flags,omitempty"`
	TimeoutMs     *int32          `json:"timeout_ms,omitempty"`
	ThreadHash    *int32          `json:"thread_hash,omitempty"`
	PartitionHash string          `json:"partition_hash,omitempty"`
	FromAddress   *string         `json:"from_address,omitempty"`
	ErrorName     string          `json:"error_name,omitempty"`
	THFTVersion   *int            `json:"thft_version,omitempty"`
	MessageType   string          `json:"message_type,omitempty"`
	BodyLength    int             `json:"body_length"`
	CRC           *crcJSON        `json:"crc,omitempty"`
	Body          json.RawMessage `json:"body"`
	BodyHex       string          `json:"body_hex,omitempty"`
	BodyError     string          `json:"body_error,omitempty"`
}

type contextJSON struct {
	IsRequest          bool `json:"is_request"`
	IsForwarded        bool `json:"is_forwarded"`
	SerializeFormat    int  `json:"serialize_format"`
	IsForwardSupported bool `json:"is_forward_supported"`
	IsBackupRequest    bool `json:"is_backup_request"`
}

// crcJSON: a zero field means "not computed"; ok is true because Decode
// rejects every frame whose non-zero CRC does not match (wire.md §1.7).
type crcJSON struct {
	Hdr  string `json:"hdr_crc32"`
	Body string `json:"body_crc32"`
	OK   bool   `json:"ok"`
}

func hex64(v uint64) string { return fmt.Sprintf("0x%016x", v) }

func frameLine(off int, f *codec.Frame) *frameJSON {
	j := &frameJSON{
		Offset:     off,
		Framing:    f.Framing.String(),
		Kind:       "response",
		RPCName:    string(f.RPCName),
		ID:         f.ID,
		ErrorName:  string(f.ErrorName),
		BodyLength: len(f.Body),
	}
	if f.IsRequest {
		j.Kind = "request"
	}
	withRouting := f.Framing == codec.FramingRDSN || f.IsRequest
	if withRouting {
		j.Gpid = codec.FormatGpid(f.AppID, f.PartitionIndex)
		j.TimeoutMs = &f.TimeoutMs
		j.ThreadHash = &f.ThreadHash
		j.PartitionHash = hex64(f.PartitionHash)
	}
	switch f.Framing {
	case codec.FramingRDSN:
		j.TraceID = hex64(f.TraceID)
		j.Context = fmt.Sprintf("0x%x", f.Context)
		j.Flags = &contextJSON{
			IsRequest:          f.IsRequest,
			IsForwarded:        f.Context&codec.ContextIsForwarded != 0,
			SerializeFormat:    f.SerializeFormat(),
			IsForwardSupported: f.Context&codec.ContextForwardSupported != 0,
			IsBackupRequest:    f.IsBackupRequest,
		}
		from := codec.FormatAddress(f.FromAddress)
		j.FromAddress = &from
		j.CRC = &crcJSON{Hdr: fmt.Sprintf("0x%08x", f.HdrCRC), Body: fmt.Sprintf("0x%08x", f.BodyCRC), OK: true}
	case codec.FramingTHFT:
		if f.IsRequest {
			v := f.THFTVersion
			j.THFTVersion = &v
			j.Flags = &contextJSON{IsRequest: true, SerializeFormat: 1, IsBackupRequest: f.IsBackupRequest}
		}
		j.MessageType = messageTypeName(f.MessageType)
	}
	body, err := decodeBody(f)
	switch {
	case err != nil:
		j.Body = json.RawMessage("null")
		j.BodyHex = hex.EncodeToString(f.Body)
		j.BodyError = err.Error()
	case body == nil:
		j.Body = json.RawMessage("null")
		if len(f.Body) > 0 {
			j.BodyHex = hex.EncodeToString(f.Body)
		}
	default:
		b, merr := json.Marshal(body)
		if merr != nil {
			j.Body = json.RawMessage("null")
			j.BodyHex = hex.EncodeToString(f.Body)
			j.BodyError = merr.Error()
		} else {
			j.Body = b
		}
	}
	return j
}

func messageTypeName(t int) string {
	switch t {
	case 1:
		return "CALL"
	case 2:
		return "REPLY"
	case 3:
		return "EXCEPTION"
	case 4:
		return "ONEWAY"
	}
	return strconv.Itoa(t)
}
