package framedump

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/hexdump"
	"github.com/dupbridge/dupbridge/internal/wirevec"
)

// unhex is hexdump.Parse for a test.
func unhex(t *testing.T, dump string) []byte {
	t.Helper()
	b, err := hexdump.Parse(dump)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeLines runs the decoder and parses its JSON lines.
func decodeLines(t *testing.T, in []byte, o Options) ([]map[string]any, error) {
	t.Helper()
	var out bytes.Buffer
	err := Dump(context.Background(), bytes.NewReader(in), &out, o)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if jerr := json.Unmarshal([]byte(l), &m); jerr != nil {
			t.Fatalf("bad JSON line %q: %v", l, jerr)
		}
		lines = append(lines, m)
	}
	return lines, err
}

// get walks a decoded JSON value by keys and indexes ("body.entries.0.x").
func get(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func expect(t *testing.T, line map[string]any, want map[string]any) {
	t.Helper()
	for path, w := range want {
		got := get(line, path)
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("%s = %s, want %s", path, gj, wj)
		}
	}
}

func TestDumpWireExamples(t *testing.T) {
	cases := []struct {
		name string
		in   string
		role string
		want map[string]any
	}{
		{"rdsn request §1.13", wirevec.RDSNQueryConfigRequest, "auto", map[string]any{
			"framing": "RDSN", "kind": "request", "rpc_name": "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX",
			"id": 1, "trace_id": "0x1122334455667788", "gpid": "0.0", "context": "0x441",
			"flags.is_forward_supported": true, "flags.serialize_format": 1, "timeout_ms": 5000,
			"from_address": "10.0.0.1:34601", "body_length": 24, "crc.ok": true,
			"body.app_name": "temp", "body.partition_indices": []any{},
		}},
		{"rdsn response §1.13", wirevec.RDSNQueryConfigResponse, "client", map[string]any{
			"kind": "response", "rpc_name": "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK", "context": "0x440",
			"from_address": "10.0.0.2:34601", "error_name": "ERR_OK", "body_length": 58,
			"body.err": "ERR_OBJECT_NOT_FOUND", "body.app_id": 0, "body.is_stateful": false, "body.partitions": []any{},
		}},
		{"thft v0 §2.7", wirevec.THFTGetRequestV0, "server", map[string]any{
			"framing": "THFT", "kind": "request", "rpc_name": "RPC_RRDB_RRDB_GET", "id": 1, "gpid": "2.5",
			"timeout_ms": 1000, "thread_hash": 15843, "partition_hash": "0xb136b82b96d0c625",
			"thft_version": 0, "message_type": "CALL", "body.key.hex": "0003686b3173", "body.key.hash_key": "hk1", "body.key.sort_key": "s",
		}},
		{"thft v1 §2.7", wirevec.THFTGetRequestV1, "auto", map[string]any{
			"rpc_name": "RPC_RRDB_RRDB_GET", "gpid": "2.5", "thread_hash": 15843, "thft_version": 1,
			"flags.is_backup_request": false, "body.key.hex": "0003686b3173", "body.key.hash_key": "hk1", "body.key.sort_key": "s",
		}},
		{"thft ok response §2.7", wirevec.THFTGetResponseOK, "auto", map[string]any{
			"framing": "THFT", "kind": "response", "rpc_name": "RPC_RRDB_RRDB_GET_ACK", "id": 1,
			"error_name": "ERR_OK", "message_type": "REPLY", "gpid": nil,
			"body.error": 0, "body.value": "v", "body.app_id": 2, "body.partition_index": 5, "body.server": "10.0.0.1:34801",
		}},
		{"thft error response §2.7", wirevec.THFTGetResponseNotFound, "client", map[string]any{
			"error_name": "ERR_OBJECT_NOT_FOUND", "body_length": 0, "body": nil, "body_hex": nil,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(t, tc.in)
			// The same bytes as raw binary, as spaced hex and as the
			// wire.md dump itself (offset column included).
			spaced := strings.Join(strings.SplitAfter(hex.EncodeToString(in), "00"), " \n\t")
			for _, input := range [][]byte{in, []byte(spaced), []byte(tc.in)} {
				lines, err := decodeLines(t, input, Options{Role: tc.role, MaxFrameSize: codec.DefaultMaxFrameSize})
				if err != nil || len(lines) != 1 {
					t.Fatalf("err %v, %d lines", err, len(lines))
				}
				expect(t, lines[0], tc.want)
			}
		})
	}
}

func TestDumpDuplicateBody(t *testing.T) {
	// wire.md §4.6: the worked duplicate_request body with one PUT entry,
	// framed as the HEAD master sends it.
	body := unhex(t, wirevec.DuplicateRequestBody)
	h := codec.RequestHeader{ID: 9, RPCName: codec.RPCDuplicate, AppID: 3, PartitionIndex: 1,
		Context: codec.ContextCppRequest, TimeoutMs: 100000, ThreadHash: codec.ThreadHash(3, 1), PartitionHash: 0xB136B82B96D0C625}
	frame := codec.AppendRequest(nil, codec.FramingRDSN, &h, body)
	lines, err := decodeLines(t, frame, Options{MaxFrameSize: 1 << 20})
	if err != nil || len(lines) != 1 {
		t.Fatalf("err %v, %d lines", err, len(lines))
	}
	expect(t, lines[0], map[string]any{
		"rpc_name": "RPC_RRDB_RRDB_DUPLICATE", "gpid": "3.1", "thread_hash": 23758,
		"body.entries.0.timestamp":                             1700000000000000,
		"body.entries.0.task_code":                             "RPC_RRDB_RRDB_PUT",
		"body.entries.0.cluster_id":                            1,
		"body.entries.0.key_hash":                              "0xb136b82b96d0c625",
		"body.entries.0.raw_message_decoded.key.hex":           "0003686b3173",
		"body.entries.0.raw_message_decoded.value":             "v",
		"body.entries.0.raw_message_decoded.expire_ts_seconds": 0,
	})
}

func TestDumpStreamAndErrors(t *testing.T) {
	req, v1 := unhex(t, wirevec.RDSNQueryConfigRequest), unhex(t, wirevec.THFTGetRequestV1)
	two := append(append([]byte(nil), req...), req...)

	lines, err := decodeLines(t, two, Options{MaxFrameSize: codec.DefaultMaxFrameSize})
	if err != nil || len(lines) != 2 || get(lines[1], "offset") != float64(len(req)) {
		t.Fatalf("two frames: err %v, %v", err, lines)
	}

	// A truncated last frame: the first frame, then an error line.
	lines, err = decodeLines(t, two[:len(two)-5], Options{MaxFrameSize: codec.DefaultMaxFrameSize})
	if err == nil || len(lines) != 2 || !strings.Contains(get(lines[1], "error").(string), "truncated") {
		t.Fatalf("truncated: err %v, %v", err, lines)
	}

	// Bad magic in the second frame.
	bad := append([]byte(nil), two...)
	bad[len(req)+1] = 'X'
	lines, err = decodeLines(t, bad, Options{MaxFrameSize: codec.DefaultMaxFrameSize})
	if err == nil || len(lines) != 2 || !strings.Contains(get(lines[1], "error").(string), "bad magic") {
		t.Fatalf("bad magic: err %v, %v", err, lines)
	}

	// Over the frame limit.
	lines, err = decodeLines(t, req, Options{MaxFrameSize: 100})
	if err == nil || len(lines) != 1 || !strings.Contains(get(lines[0], "error").(string), "too large") {
		t.Fatalf("limit: err %v, %v", err, lines)
	}

	// An unknown RPC name: header, null body and its hex.
	h := codec.RequestHeader{ID: 3, RPCName: "RPC_SOMETHING_NEW"}
	unk := codec.AppendRequest(nil, codec.FramingTHFT, &h, []byte{0x0c, 0, 1, 0, 0})
	lines, err = decodeLines(t, unk, Options{MaxFrameSize: codec.DefaultMaxFrameSize})
	if err != nil || len(lines) != 1 {
		t.Fatalf("unknown: err %v, %v", err, lines)
	}
	expect(t, lines[0], map[string]any{"rpc_name": "RPC_SOMETHING_NEW", "body": nil, "body_hex": "0c00010000"})

	// A malformed body of a known RPC: still a frame line, with body_error.
	h.RPCName = codec.RPCPut
	mal := codec.AppendRequest(nil, codec.FramingTHFT, &h, []byte{0x0c, 0, 1, 0x0c, 0, 1, 0, 0, 0, 9})
	lines, err = decodeLines(t, mal, Options{MaxFrameSize: codec.DefaultMaxFrameSize})
	if err != nil || len(lines) != 1 || get(lines[0], "body_error") == nil || get(lines[0], "body") != nil {
		t.Fatalf("malformed body: err %v, %v", err, lines)
	}

	// --role server on a response stream is a framing error.
	_, err = decodeLines(t, unhex(t, wirevec.THFTGetResponseOK), Options{Role: "server", MaxFrameSize: codec.DefaultMaxFrameSize})
	if err == nil {
		t.Fatal("responses decoded as requests")
	}
	_ = v1
}

func TestDumpTsharkFollow(t *testing.T) {
	// tshark -q -z follow,tcp,raw,0 layout: node 1's segments are
	// tab-indented. Node 0 sends the v1 request in two segments, node 1
	// answers.
	v1, ok := hex.EncodeToString(unhex(t, wirevec.THFTGetRequestV1)), hex.EncodeToString(unhex(t, wirevec.THFTGetResponseOK))
	follow := "\n===================================================================\n" +
		"Follow: tcp,raw\nFilter: tcp.stream eq 0\nNode 0: 10.0.0.9:50000\nNode 1: 10.0.0.1:34801\n" +
		v1[:40] + "\n" + v1[40:] + "\n\t" + ok + "\n" +
		"===================================================================\n"
	for _, tc := range []struct {
		role, node, kind string
	}{
		{"auto", "auto", "request"},
		{"server", "auto", "request"},
		{"client", "auto", "response"},
		{"auto", "1", "response"},
	} {
		lines, err := decodeLines(t, []byte(follow), Options{Role: tc.role, Node: tc.node, MaxFrameSize: codec.DefaultMaxFrameSize})
		if err != nil || len(lines) != 1 || get(lines[0], "kind") != tc.kind {
			t.Errorf("role %s node %s: err %v, %v", tc.role, tc.node, err, lines)
		}
	}
}

// FuzzDump: any input, in any input format and role, gives JSON lines and
// maybe an error, never a panic; every line written is valid JSON.
func FuzzDump(f *testing.F) {
	for _, v := range []string{wirevec.RDSNQueryConfigRequest, wirevec.THFTGetRequestV1, wirevec.THFTGetResponseOK} {
		f.Add(wirevec.Bytes(v), uint8(0))
		f.Add([]byte(v), uint8(1))
	}
	f.Add([]byte("Follow: tcp,raw\nNode 0: a\n\t0000\n"), uint8(2))
	roles := []string{"auto", "server", "client"}
	f.Fuzz(func(t *testing.T, in []byte, sel uint8) {
		var out bytes.Buffer
		_ = Dump(context.Background(), bytes.NewReader(in), &out, Options{Role: roles[int(sel)%len(roles)], MaxFrameSize: 1 << 20})
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if l != "" && !json.Valid([]byte(l)) {
				t.Fatalf("invalid JSON line %q", l)
			}
		}
	})
}
