package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/codec"
)

// Frames from wire.md, as its hex dumps: §1.13 (RDSN request and
// response) and §2.7 (THFT v0, v1, success response, error response).
const (
	hexRDSNReq = `
0000: 52 44 53 4e 00 00 00 00 c0 00 00 00 00 00 00 00
0010: 18 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00
0020: 88 77 66 55 44 33 22 11 52 50 43 5f 43 4d 5f 51
0030: 55 45 52 59 5f 50 41 52 54 49 54 49 4f 4e 5f 43
0040: 4f 4e 46 49 47 5f 42 59 5f 49 4e 44 45 58 00 00
0050: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0060: 00 00 00 00 00 00 00 00 41 04 00 00 00 00 00 00
0070: 01 00 29 87 01 00 00 0a 88 13 00 00 00 00 00 00
0080: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0090: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00a0: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00b0: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00c0: 0c 00 00 0b 00 01 00 00 00 04 74 65 6d 70 0f 00
00d0: 02 08 00 00 00 00 00 00`
	hexRDSNResp = `
0000: 52 44 53 4e 00 00 00 00 c0 00 00 00 00 00 00 00
0010: 3a 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00
0020: 88 77 66 55 44 33 22 11 52 50 43 5f 43 4d 5f 51
0030: 55 45 52 59 5f 50 41 52 54 49 54 49 4f 4e 5f 43
0040: 4f 4e 46 49 47 5f 42 59 5f 49 4e 44 45 58 5f 41
0050: 43 4b 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0060: 00 00 00 00 00 00 00 00 40 04 00 00 00 00 00 00
0070: 01 00 29 87 02 00 00 0a 88 13 00 00 00 00 00 00
0080: 00 00 00 00 00 00 00 00 45 52 52 5f 4f 4b 00 00
0090: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00a0: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00b0: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00c0: 0c 00 00 0c 00 01 00 00 00 14 45 52 52 5f 4f 42
00d0: 4a 45 43 54 5f 4e 4f 54 5f 46 4f 55 4e 44 08 00
00e0: 02 00 00 00 00 08 00 03 00 00 00 00 02 00 04 00
00f0: 0f 00 05 0c 00 00 00 00 00 00`
	hexTHFTv0 = `
0000: 54 48 46 54 00 00 00 00 00 00 00 30 00 00 00 00
0010: 00 00 00 2b 00 00 00 00 00 00 00 02 00 00 00 05
0020: 00 00 03 e8 00 00 3d e3 b1 36 b8 2b 96 d0 c6 25
0030: 80 01 00 01 00 00 00 11 52 50 43 5f 52 52 44 42
0040: 5f 52 52 44 42 5f 47 45 54 00 00 00 01 0c 00 01
0050: 00 00 00 06 00 03 68 6b 31 73 00`
	hexTHFTv1 = `
0000: 54 48 46 54 00 00 00 01 00 00 00 25 00 00 00 2b
0010: 08 00 01 00 00 00 02 08 00 02 00 00 00 05 08 00
0020: 03 00 00 03 e8 0a 00 04 b1 36 b8 2b 96 d0 c6 25
0030: 02 00 05 00 00 80 01 00 01 00 00 00 11 52 50 43
0040: 5f 52 52 44 42 5f 52 52 44 42 5f 47 45 54 00 00
0050: 00 01 0c 00 01 00 00 00 06 00 03 68 6b 31 73 00`
	hexTHFTOK = `
0000: 00 00 00 66 00 00 00 06 45 52 52 5f 4f 4b 80 01
0010: 00 02 00 00 00 15 52 50 43 5f 52 52 44 42 5f 52
0020: 52 44 42 5f 47 45 54 5f 41 43 4b 00 00 00 01 0c
0030: 00 00 08 00 01 00 00 00 00 0c 00 02 00 00 00 01
0040: 76 08 00 03 00 00 00 02 08 00 04 00 00 00 05 0b
0050: 00 06 00 00 00 0e 31 30 2e 30 2e 30 2e 31 3a 33
0060: 34 38 30 31 00 00`
	hexTHFTErr = `
0000: 00 00 00 3d 00 00 00 14 45 52 52 5f 4f 42 4a 45
0010: 43 54 5f 4e 4f 54 5f 46 4f 55 4e 44 80 01 00 02
0020: 00 00 00 15 52 50 43 5f 52 52 44 42 5f 52 52 44
0030: 42 5f 47 45 54 5f 41 43 4b 00 00 00 01`
)

// unhex reads a wire.md dump (or plain hex) with the decoder's own parser.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := parseHex([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeLines runs the decoder and parses its JSON lines.
func decodeLines(t *testing.T, in []byte, o decodeOpts) ([]map[string]any, error) {
	t.Helper()
	if o.role == "" {
		o.role = "auto"
	}
	if o.input == "" {
		o.input = "auto"
	}
	if o.node == "" {
		o.node = "auto"
	}
	var out bytes.Buffer
	err := runDecode(context.Background(), bytes.NewReader(in), &out, o)
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

func TestDecodeWireExamples(t *testing.T) {
	cases := []struct {
		name string
		in   string
		role string
		want map[string]any
	}{
		{"rdsn request §1.13", hexRDSNReq, "auto", map[string]any{
			"framing": "RDSN", "kind": "request", "rpc_name": "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX",
			"id": 1, "trace_id": "0x1122334455667788", "gpid": "0.0", "context": "0x441",
			"flags.is_forward_supported": true, "flags.serialize_format": 1, "timeout_ms": 5000,
			"from_address": "10.0.0.1:34601", "body_length": 24, "crc.ok": true,
			"body.app_name": "temp", "body.partition_indices": []any{},
		}},
		{"rdsn response §1.13", hexRDSNResp, "client", map[string]any{
			"kind": "response", "rpc_name": "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK", "context": "0x440",
			"from_address": "10.0.0.2:34601", "error_name": "ERR_OK", "body_length": 58,
			"body.err": "ERR_OBJECT_NOT_FOUND", "body.app_id": 0, "body.is_stateful": false, "body.partitions": []any{},
		}},
		{"thft v0 §2.7", hexTHFTv0, "server", map[string]any{
			"framing": "THFT", "kind": "request", "rpc_name": "RPC_RRDB_RRDB_GET", "id": 1, "gpid": "2.5",
			"timeout_ms": 1000, "thread_hash": 15843, "partition_hash": "0xb136b82b96d0c625",
			"thft_version": 0, "message_type": "CALL", "body.key.hex": "0003686b3173", "body.key.hash_key": "hk1", "body.key.sort_key": "s",
		}},
		{"thft v1 §2.7", hexTHFTv1, "auto", map[string]any{
			"rpc_name": "RPC_RRDB_RRDB_GET", "gpid": "2.5", "thread_hash": 15843, "thft_version": 1,
			"flags.is_backup_request": false, "body.key.hex": "0003686b3173", "body.key.hash_key": "hk1", "body.key.sort_key": "s",
		}},
		{"thft ok response §2.7", hexTHFTOK, "auto", map[string]any{
			"framing": "THFT", "kind": "response", "rpc_name": "RPC_RRDB_RRDB_GET_ACK", "id": 1,
			"error_name": "ERR_OK", "message_type": "REPLY", "gpid": nil,
			"body.error": 0, "body.value": "v", "body.app_id": 2, "body.partition_index": 5, "body.server": "10.0.0.1:34801",
		}},
		{"thft error response §2.7", hexTHFTErr, "client", map[string]any{
			"error_name": "ERR_OBJECT_NOT_FOUND", "body_length": 0, "body": nil, "body_hex": nil,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(t, tc.in)
			// The same bytes as raw binary and as spaced hex.
			spaced := strings.Join(strings.SplitAfter(hex.EncodeToString(in), "00"), " \n\t")
			for _, input := range [][]byte{in, []byte(spaced)} {
				lines, err := decodeLines(t, input, decodeOpts{role: tc.role, maxSize: codec.DefaultMaxFrameSize})
				if err != nil || len(lines) != 1 {
					t.Fatalf("err %v, %d lines", err, len(lines))
				}
				expect(t, lines[0], tc.want)
			}
		})
	}
}

func TestDecodeDuplicateBody(t *testing.T) {
	// wire.md §4.6: the worked duplicate_request body with one PUT entry,
	// framed as the HEAD master sends it.
	body := unhex(t, `
0000: 0c 00 00 0f 00 01 0c 00 00 00 01 0a 00 01 00 06
0010: 0a 24 18 1e 40 00 0c 00 02 00 00 00 11 52 50 43
0020: 5f 52 52 44 42 5f 52 52 44 42 5f 50 55 54 0c 00
0030: 03 00 00 00 21 0c 00 00 0c 00 01 00 00 00 06 00
0040: 03 68 6b 31 73 0c 00 02 00 00 00 01 76 08 00 03
0050: 00 00 00 00 00 00 03 00 04 01 00 00 00`)
	h := codec.RequestHeader{ID: 9, RPCName: codec.RPCDuplicate, AppID: 3, PartitionIndex: 1,
		Context: codec.ContextCppRequest, TimeoutMs: 100000, ThreadHash: codec.ThreadHash(3, 1), PartitionHash: 0xB136B82B96D0C625}
	frame := codec.AppendRequest(nil, codec.FramingRDSN, &h, body)
	lines, err := decodeLines(t, frame, decodeOpts{maxSize: 1 << 20})
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

func TestDecodeStreamAndErrors(t *testing.T) {
	req, v1 := unhex(t, hexRDSNReq), unhex(t, hexTHFTv1)
	two := append(append([]byte(nil), req...), req...)

	lines, err := decodeLines(t, two, decodeOpts{maxSize: codec.DefaultMaxFrameSize})
	if err != nil || len(lines) != 2 || get(lines[1], "offset") != float64(len(req)) {
		t.Fatalf("two frames: err %v, %v", err, lines)
	}

	// A truncated last frame: the first frame, then an error line.
	lines, err = decodeLines(t, two[:len(two)-5], decodeOpts{maxSize: codec.DefaultMaxFrameSize})
	if err == nil || len(lines) != 2 || !strings.Contains(get(lines[1], "error").(string), "truncated") {
		t.Fatalf("truncated: err %v, %v", err, lines)
	}

	// Bad magic in the second frame.
	bad := append([]byte(nil), two...)
	bad[len(req)+1] = 'X'
	lines, err = decodeLines(t, bad, decodeOpts{maxSize: codec.DefaultMaxFrameSize})
	if err == nil || len(lines) != 2 || !strings.Contains(get(lines[1], "error").(string), "bad magic") {
		t.Fatalf("bad magic: err %v, %v", err, lines)
	}

	// Over the frame limit.
	lines, err = decodeLines(t, req, decodeOpts{maxSize: 100})
	if err == nil || len(lines) != 1 || !strings.Contains(get(lines[0], "error").(string), "too large") {
		t.Fatalf("limit: err %v, %v", err, lines)
	}

	// An unknown RPC name: header, null body and its hex.
	h := codec.RequestHeader{ID: 3, RPCName: "RPC_SOMETHING_NEW"}
	unk := codec.AppendRequest(nil, codec.FramingTHFT, &h, []byte{0x0c, 0, 1, 0, 0})
	lines, err = decodeLines(t, unk, decodeOpts{maxSize: codec.DefaultMaxFrameSize})
	if err != nil || len(lines) != 1 {
		t.Fatalf("unknown: err %v, %v", err, lines)
	}
	expect(t, lines[0], map[string]any{"rpc_name": "RPC_SOMETHING_NEW", "body": nil, "body_hex": "0c00010000"})

	// A malformed body of a known RPC: still a frame line, with body_error.
	h.RPCName = codec.RPCPut
	mal := codec.AppendRequest(nil, codec.FramingTHFT, &h, []byte{0x0c, 0, 1, 0x0c, 0, 1, 0, 0, 0, 9})
	lines, err = decodeLines(t, mal, decodeOpts{maxSize: codec.DefaultMaxFrameSize})
	if err != nil || len(lines) != 1 || get(lines[0], "body_error") == nil || get(lines[0], "body") != nil {
		t.Fatalf("malformed body: err %v, %v", err, lines)
	}

	// --role server on a response stream is a framing error.
	_, err = decodeLines(t, unhex(t, hexTHFTOK), decodeOpts{role: "server", maxSize: codec.DefaultMaxFrameSize})
	if err == nil {
		t.Fatal("responses decoded as requests")
	}
	_ = v1
}

func TestDecodeTsharkFollow(t *testing.T) {
	// tshark -q -z follow,tcp,raw,0 layout: node 1's segments are
	// tab-indented. Node 0 sends the v1 request in two segments, node 1
	// answers.
	v1, ok := hex.EncodeToString(unhex(t, hexTHFTv1)), hex.EncodeToString(unhex(t, hexTHFTOK))
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
		lines, err := decodeLines(t, []byte(follow), decodeOpts{role: tc.role, node: tc.node, maxSize: codec.DefaultMaxFrameSize})
		if err != nil || len(lines) != 1 || get(lines[0], "kind") != tc.kind {
			t.Errorf("role %s node %s: err %v, %v", tc.role, tc.node, err, lines)
		}
	}
}

func TestDecodeCommandFile(t *testing.T) {
	// The cobra command end to end on a temp file holding a wire.md-style
	// dump with offsets.
	dir := t.TempDir()
	path := filepath.Join(dir, "stream.hex")
	b := unhex(t, hexTHFTErr)
	var dump strings.Builder
	for i := 0; i < len(b); i += 16 {
		dump.WriteString(hex.EncodeToString([]byte{byte(i >> 8), byte(i)}) + ": ")
		for _, c := range b[i:min(i+16, len(b))] {
			dump.WriteString(hex.EncodeToString([]byte{c}) + " ")
		}
		dump.WriteString("\n")
	}
	if err := os.WriteFile(path, []byte(dump.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := newDecodeCmd(&globalFlags{})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{path, "--role", "client"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"error_name":"ERR_OBJECT_NOT_FOUND"`) {
		t.Errorf("output %s", out.String())
	}
}
