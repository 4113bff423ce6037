package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	athrift "github.com/apache/thrift/lib/go/thrift"
	"github.com/spf13/cobra"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/idl/base"
	"github.com/dupbridge/dupbridge/idl/gen/checkpoint"
	"github.com/dupbridge/dupbridge/idl/gen/meta"
	"github.com/dupbridge/dupbridge/idl/gen/rrdb"
	"github.com/dupbridge/dupbridge/internal/wirevec"
	"github.com/dupbridge/dupbridge/mutation"
)

type decodeOpts struct {
	role    string // server, client, auto
	input   string // auto, raw, hex, tshark
	node    string // auto, 0, 1 (tshark follow output)
	maxSize int
}

func newDecodeCmd(_ *globalFlags) *cobra.Command {
	o := decodeOpts{}
	cmd := &cobra.Command{
		Use:   "decode [file|-]",
		Short: "Print the RDSN/THFT frames of one TCP direction as JSON lines",
		Long: `decode reads the bytes of one TCP direction of a Pegasus connection and prints
one JSON line per frame: framing, header fields and the decoded body.

Input (detected unless --input says): raw binary; hex text with any whitespace
(offset prefixes such as "0000:" are ignored, so wire.md dumps work); or the
output of "tshark -q -z follow,tcp,raw,N", whose lines for node 1 are
tab-indented (--node picks the direction; by default the only node that sent
data, else node 1, the responses, with --role client and node 0, the side
that opened the connection, otherwise).

--role server decodes requests, client decodes responses. auto: a stream
starting with "THFT" holds requests, one starting with "RDSN" is told per
frame by the context bit, anything else is taken as THFT responses.

A framing error or a truncated last frame prints a line with "error" and the
command exits non-zero.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := "-"
			if len(args) == 1 {
				name = args[0]
			}
			var in io.Reader = cmd.InOrStdin()
			if name != "-" {
				f, err := os.Open(name)
				if err != nil {
					return fmt.Errorf("decode: %w", err)
				}
				defer f.Close()
				in = f
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			err := runDecode(cmd.Context(), in, out, o)
			if ferr := out.Flush(); err == nil && ferr != nil {
				err = fmt.Errorf("decode: writing output: %w", ferr)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.role, "role", "auto", "server (decode requests), client (decode responses) or auto")
	fl.StringVar(&o.input, "input", "auto", "input format: auto, raw, hex or tshark")
	fl.StringVar(&o.node, "node", "auto", "tshark follow output: which node's data to decode (0, 1 or auto)")
	fl.IntVar(&o.maxSize, "max-frame-size", codec.DefaultMaxFrameSize, "largest frame accepted, in bytes")
	return cmd
}

// runDecode decodes the whole stream from in and writes JSON lines to out.
func runDecode(ctx context.Context, in io.Reader, out io.Writer, o decodeOpts) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("decode: reading input: %w", err)
	}
	role := o.role
	stream, err := parseInput(data, o.input, o.node, role)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	d := codec.Decoder{MaxFrameSize: o.maxSize}
	switch role {
	case "server":
		d.Role = codec.RoleServer
	case "client":
		d.Role = codec.RoleClient
	case "auto":
		// THFT requests and RDSN carry a signature; anything else can only
		// be a stream of THFT responses (wire.md §2.5).
		if len(stream) >= 4 && string(stream[:4]) != "THFT" && string(stream[:4]) != "RDSN" {
			d.Role = codec.RoleClient
		}
	default:
		return fmt.Errorf("decode: --role %q: want server, client or auto", role)
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	off := 0
	for off < len(stream) {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, n, err := d.Decode(stream[off:])
		if err != nil {
			msg := err.Error()
			if errors.Is(err, codec.ErrNeedMore) {
				msg = fmt.Sprintf("truncated frame: %d bytes left at the end of the stream", len(stream)-off)
			}
			_ = enc.Encode(errorLine{Offset: off, Error: msg})
			return fmt.Errorf("decode: at stream offset %d: %s", off, msg)
		}
		if err := enc.Encode(frameLine(off, &f)); err != nil {
			return fmt.Errorf("decode: writing output: %w", err)
		}
		off += n
	}
	return nil
}

type errorLine struct {
	Offset int    `json:"offset"`
	Error  string `json:"error"`
}

// --- input formats ---

// parseInput turns the input into the raw byte stream of one direction.
func parseInput(data []byte, format, node, role string) ([]byte, error) {
	if format == "auto" {
		format = detectInput(data)
	}
	switch format {
	case "raw":
		return data, nil
	case "hex":
		// The dump format of wire.md, which the tests' vectors use too.
		b, err := wirevec.Parse(string(data))
		if err != nil {
			return nil, fmt.Errorf("hex input: %w", err)
		}
		return b, nil
	case "tshark":
		return parseTshark(data, node, role)
	}
	return nil, fmt.Errorf("--input %q: want auto, raw, hex or tshark", format)
}

func detectInput(data []byte) string {
	head := data[:min(len(data), 4096)]
	if bytes.Contains(head, []byte("Follow: tcp,raw")) || bytes.HasPrefix(bytes.TrimSpace(head), []byte("====")) {
		return "tshark"
	}
	hasHex := false
	for _, c := range data {
		switch {
		case isHexDigit(c):
			hasHex = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':':
		default:
			return "raw"
		}
	}
	if !hasHex {
		return "raw"
	}
	return "hex"
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// parseTshark reads "tshark -z follow,tcp,raw" output: a banner of "===="
// lines and "Follow:", "Filter:", "Node N:" headers, then one hex line per
// segment, tab-indented when node 1 sent it.
func parseTshark(data []byte, node, role string) ([]byte, error) {
	var seg [2][]byte
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "====") || strings.HasPrefix(t, "Follow:") ||
			strings.HasPrefix(t, "Filter:") || strings.HasPrefix(t, "Node ") {
			continue
		}
		n := 0
		if strings.HasPrefix(line, "\t") {
			n = 1
		}
		b, err := hex.DecodeString(t)
		if err != nil {
			return nil, fmt.Errorf("tshark input line %d: %w", i+1, err)
		}
		seg[n] = append(seg[n], b...)
	}
	switch node {
	case "0":
		return seg[0], nil
	case "1":
		return seg[1], nil
	case "auto":
		switch {
		case len(seg[1]) == 0:
			return seg[0], nil
		case len(seg[0]) == 0:
			return seg[1], nil
		case role == "client":
			return seg[1], nil
		}
		// Node 0 opened the connection, so it sent the requests.
		return seg[0], nil
	}
	return nil, fmt.Errorf("--node %q: want 0, 1 or auto", node)
}

// --- one frame as JSON ---

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

// --- bodies ---

// bodyKind says how to read the value inside a body's one-field wrapper
// (wire.md §1.9): a generated struct, or one of the bare payloads.
type bodyKind struct {
	newStruct func() athrift.TStruct
	blob      bool // a bare blob (REMOVE/GET/TTL/SORTKEY_COUNT args)
	hashKey   bool // the bare blob is a hash key, not a full key
	i64       bool // CLEAR_SCANNER args
}

func st[T athrift.TStruct](f func() T) bodyKind {
	return bodyKind{newStruct: func() athrift.TStruct { return f() }}
}

var (
	keyBody     = bodyKind{blob: true}                // a full key (wire.md §6.1)
	hashKeyBody = bodyKind{blob: true, hashKey: true} // SORTKEY_COUNT's hash key
	i64Body     = bodyKind{i64: true}
)

// bodyKinds maps an RPC name to its args (request) and result (response)
// types, per wire.md §5.1.
func bodyKinds(name string) (req, resp bodyKind, ok bool) {
	switch name {
	case codec.RPCQueryPartitionConfigByIndex:
		return st(meta.NewQueryCfgRequest), st(meta.NewQueryCfgResponse), true
	case codec.RPCCreateApp:
		return st(meta.NewConfigurationCreateAppRequest), st(meta.NewConfigurationCreateAppResponse), true
	case codec.RPCDropApp:
		return st(meta.NewConfigurationDropAppRequest), st(meta.NewConfigurationDropAppResponse), true
	case codec.RPCListApps:
		return st(meta.NewConfigurationListAppsRequest), st(meta.NewConfigurationListAppsResponse), true
	case codec.RPCPut:
		return st(rrdb.NewUpdateRequest), st(rrdb.NewUpdateResponse), true
	case codec.RPCMultiPut:
		return st(rrdb.NewMultiPutRequest), st(rrdb.NewUpdateResponse), true
	case codec.RPCRemove:
		return keyBody, st(rrdb.NewUpdateResponse), true
	case codec.RPCMultiRemove:
		return st(rrdb.NewMultiRemoveRequest), st(rrdb.NewMultiRemoveResponse), true
	case codec.RPCIncr:
		return st(rrdb.NewIncrRequest), st(rrdb.NewIncrResponse), true
	case codec.RPCCheckAndSet:
		return st(rrdb.NewCheckAndSetRequest), st(rrdb.NewCheckAndSetResponse), true
	case codec.RPCCheckAndMutate:
		return st(rrdb.NewCheckAndMutateRequest), st(rrdb.NewCheckAndMutateResponse), true
	case codec.RPCDuplicate:
		return st(rrdb.NewDuplicateRequest), st(rrdb.NewDuplicateResponse), true
	case codec.RPCGet:
		return keyBody, st(rrdb.NewReadResponse), true
	case codec.RPCMultiGet:
		return st(rrdb.NewMultiGetRequest), st(rrdb.NewMultiGetResponse), true
	case codec.RPCBatchGet:
		return st(rrdb.NewBatchGetRequest), st(rrdb.NewBatchGetResponse), true
	case codec.RPCSortkeyCount:
		return hashKeyBody, st(rrdb.NewCountResponse), true
	case codec.RPCTTL:
		return keyBody, st(rrdb.NewTTLResponse), true
	case codec.RPCGetScanner:
		return st(rrdb.NewGetScannerRequest), st(rrdb.NewScanResponse), true
	case codec.RPCScan:
		return st(rrdb.NewScanRequest), st(rrdb.NewScanResponse), true
	case codec.RPCClearScanner:
		return i64Body, bodyKind{}, true
	case codec.RPCQueryLastCheckpointInfo:
		return st(checkpoint.NewLearnRequest), st(checkpoint.NewLearnResponse), true
	case codec.RPCNFSGetFileSize:
		return st(checkpoint.NewGetFileSizeRequest), st(checkpoint.NewGetFileSizeResponse), true
	case codec.RPCNFSCopy:
		return st(checkpoint.NewCopyRequest), st(checkpoint.NewCopyResponse), true
	}
	return bodyKind{}, bodyKind{}, false
}

// decodeBody returns the JSON-ready body, nil when there is none to decode
// (empty body, unknown RPC), or an error for a malformed one.
func decodeBody(f *codec.Frame) (any, error) {
	if len(f.Body) == 0 {
		return nil, nil
	}
	name := string(f.RPCName)
	isResp := !f.IsRequest
	if isResp {
		name = strings.TrimSuffix(name, codec.AckSuffix)
		if string(f.ErrorName) == codec.ErrorForwardToOthers {
			// An RPC-level forward carries the leader's wrapped rpc_address
			// (wire.md §1.11).
			return readWrapped(f.Body, bodyKind{}, true)
		}
	}
	req, resp, ok := bodyKinds(name)
	if !ok {
		return nil, nil
	}
	k := req
	if isResp {
		k = resp
	}
	if k.newStruct == nil && !k.blob && !k.i64 {
		return nil, nil
	}
	v, err := readWrapped(f.Body, k, false)
	if err != nil {
		return nil, err
	}
	if name == codec.RPCDuplicate && !isResp {
		return duplicateJSON(f.Body, v)
	}
	return v, nil
}

// readWrapped reads a one-field wrapper (wire.md §1.9) with apache/thrift's
// binary protocol: the field header (type and id ignored, as C++ does), the
// payload as k says, then the STOP. The result is ready for json.Marshal.
func readWrapped(body []byte, k bodyKind, address bool) (any, error) {
	ctx := context.Background()
	p := athrift.NewTBinaryProtocolConf(&athrift.TMemoryBuffer{Buffer: bytes.NewBuffer(body)}, nil)
	_, typ, _, err := p.ReadFieldBegin(ctx)
	if err != nil {
		return nil, fmt.Errorf("wrapper: %w", err)
	}
	if typ == athrift.STOP {
		return nil, errors.New("wrapper: STOP where a value was expected")
	}
	var out any
	switch {
	case address:
		v, err := p.ReadI64(ctx)
		if err != nil {
			return nil, fmt.Errorf("rpc_address: %w", err)
		}
		out = obj{{"leader", codec.FormatAddress(uint64(v))}}
	case k.blob:
		b, err := p.ReadBinary(ctx)
		if err != nil {
			return nil, fmt.Errorf("blob: %w", err)
		}
		if k.hashKey {
			out = obj{{"hash_key", blobJSON(b)}}
		} else {
			out = obj{{"key", rawKeyJSON(b)}}
		}
	case k.i64:
		v, err := p.ReadI64(ctx)
		if err != nil {
			return nil, fmt.Errorf("i64: %w", err)
		}
		out = obj{{"value", v}}
	default:
		s := k.newStruct()
		if err := s.Read(ctx, p); err != nil {
			return nil, err
		}
		out = toJSON(reflect.ValueOf(s))
	}
	if _, typ, _, err = p.ReadFieldBegin(ctx); err != nil {
		return nil, fmt.Errorf("wrapper end: %w", err)
	}
	if typ != athrift.STOP {
		return nil, fmt.Errorf("wrapper end: type %d, want STOP", typ)
	}
	return out, nil
}

// duplicateJSON adds, to each entry of a decoded duplicate_request, its
// raw_message decoded by task code and the routing hash (wire.md §4.6). An
// old-shape request (one entry, field 1 of type I64) is decoded as an entry.
func duplicateJSON(body []byte, decoded any) (any, error) {
	if len(body) > 3 && body[3] == byte(athrift.I64) {
		v, err := readWrapped(body, st(rrdb.NewDuplicateEntry), false)
		if err != nil {
			return nil, err
		}
		e, _ := v.(obj)
		return obj{{"legacy_entry", entryJSON(e)}}, nil
	}
	o, _ := decoded.(obj)
	for i := range o {
		if o[i].k != "entries" {
			continue
		}
		list, _ := o[i].v.([]any)
		for j := range list {
			e, _ := list[j].(obj)
			list[j] = entryJSON(e)
		}
	}
	return o, nil
}

// entryJSON decodes an entry's raw_message. The JSON object holds the raw
// bytes in the hidden field "_raw".
func entryJSON(e obj) obj {
	var raw []byte
	var code string
	out := e[:0:0]
	for _, kv := range e {
		switch kv.k {
		case "_raw_message":
			raw, _ = kv.v.([]byte)
			continue
		case "task_code":
			code, _ = kv.v.(string)
		}
		out = append(out, kv)
	}
	if raw == nil {
		return out
	}
	c := mutation.ParseCode([]byte(code))
	if h, err := mutation.PayloadHash(c, raw); err == nil {
		out = append(out, kvPair{"key_hash", hex64(h)})
	} else {
		out = append(out, kvPair{"key_hash_error", err.Error()})
	}
	k, _, ok := bodyKinds(code)
	if !ok || (k.newStruct == nil && !k.blob) {
		return out
	}
	v, err := readWrapped(raw, k, false)
	if err != nil {
		return append(out, kvPair{"raw_message_error", err.Error()})
	}
	return append(out, kvPair{"raw_message_decoded", v})
}

// obj is a JSON object that keeps its field order.
type obj []kvPair

type kvPair struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, kv := range o {
		if strings.HasPrefix(kv.k, "_") {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(kv.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// blobJSON renders bytes as a string when they are printable UTF-8, else as
// {"hex": ...}.
func blobJSON(b []byte) any {
	if utf8.Valid(b) {
		printable := true
		for _, r := range string(b) {
			if r < 0x20 || r == 0x7f {
				printable = false
				break
			}
		}
		if printable {
			return string(b)
		}
	}
	return obj{{"hex", hex.EncodeToString(b)}}
}

// isFullKeyField: the rrdb fields that hold a full key, 2-byte hash-key
// length + hash key + sort key (wire.md §6.1).
func isFullKeyField(name string) bool {
	return name == "key" || name == "start_key" || name == "stop_key"
}

// rawKeyJSON shows a full key split into its hash key and sort key, with
// the raw bytes in hex; a key too short for its length prefix is shown as
// plain bytes.
func rawKeyJSON(b []byte) any {
	if len(b) < 2 || int(b[0])<<8|int(b[1]) > len(b)-2 {
		return blobJSON(b)
	}
	n := int(b[0])<<8 | int(b[1])
	return obj{{"hash_key", blobJSON(b[2 : 2+n])}, {"sort_key", blobJSON(b[2+n:])}, {"hex", hex.EncodeToString(b)}}
}

var (
	typBlob      = reflect.TypeFor[*base.Blob]()
	typErrorCode = reflect.TypeFor[*base.ErrorCode]()
	typTaskCode  = reflect.TypeFor[*base.TaskCode]()
	typGpid      = reflect.TypeFor[*base.Gpid]()
	typAddress   = reflect.TypeFor[*base.RPCAddress]()
	typHostPort  = reflect.TypeFor[*base.HostPort]()
	typBytes     = reflect.TypeFor[[]byte]()
	typStringer  = reflect.TypeFor[fmt.Stringer]()
)

// toJSON turns a generated thrift value into JSON-ready values: structs in
// field order under their thrift names, unset optional fields left out, rDSN
// special types (wire.md §3) in readable form, enums by name.
func toJSON(v reflect.Value) any {
	switch v.Type() {
	case typBlob:
		if v.IsNil() {
			return nil
		}
		return blobJSON(v.Interface().(*base.Blob).Data)
	case typErrorCode:
		if v.IsNil() {
			return nil
		}
		return v.Interface().(*base.ErrorCode).Errno
	case typTaskCode:
		if v.IsNil() {
			return nil
		}
		return v.Interface().(*base.TaskCode).Code
	case typGpid:
		if v.IsNil() {
			return nil
		}
		g := v.Interface().(*base.Gpid)
		return codec.FormatGpid(g.Appid, g.PartitionIndex)
	case typAddress:
		if v.IsNil() {
			return nil
		}
		return codec.FormatAddress(v.Interface().(*base.RPCAddress).Address)
	case typHostPort:
		if v.IsNil() {
			return nil
		}
		hp := v.Interface().(*base.HostPort)
		if hp.Type == 0 {
			return ""
		}
		return hp.Host + ":" + strconv.Itoa(int(hp.Port))
	case typBytes:
		return blobJSON(v.Bytes())
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return toJSON(v.Elem())
	case reflect.Struct:
		t := v.Type()
		var o obj
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("thrift"), ",")
			if name == "" {
				name = sf.Name
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Pointer && fv.IsNil() && strings.Contains(sf.Tag.Get("json"), "omitempty") {
				continue
			}
			if isFullKeyField(name) && sf.Type == typBlob && !fv.IsNil() {
				o = append(o, kvPair{name, rawKeyJSON(fv.Interface().(*base.Blob).Data)})
				continue
			}
			o = append(o, kvPair{name, toJSON(fv)})
			// Keep raw_message's bytes for duplicateJSON.
			if sf.Type == typBlob && name == "raw_message" && !fv.IsNil() {
				o = append(o, kvPair{"_raw_message", fv.Interface().(*base.Blob).Data})
			}
		}
		return o
	case reflect.Slice:
		if v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toJSON(v.Index(i))
		}
		return out
	case reflect.Map:
		o := obj{}
		iter := v.MapRange()
		for iter.Next() {
			o = append(o, kvPair{fmt.Sprint(toJSON(iter.Key())), toJSON(iter.Value())})
		}
		sort.Slice(o, func(i, j int) bool { return o[i].k < o[j].k })
		return o
	case reflect.Int64, reflect.Int32:
		if v.Type().Implements(typStringer) && v.Type().PkgPath() != "" {
			return v.Interface().(fmt.Stringer).String()
		}
	}
	return v.Interface()
}
