// Package wirevec holds the worked examples of wire.md as bytes, for the
// tests of every package that speaks the protocol; each constant says which
// section its bytes come from.
//
// The constants are the hex dumps exactly as wire.md prints them, offset
// column included; Bytes turns one into bytes (with hexdump, the reader
// `dupbridge decode` uses too). A change to a dump belongs in wire.md first.
package wirevec

import "github.com/dupbridge/dupbridge/hexdump"

// Bytes is hexdump.Parse for dumps known to be good: this package's constants and
// the hex literals of tests. It panics on a bad dump. Each call returns a
// new slice, which the caller may modify.
func Bytes(dump string) []byte {
	b, err := hexdump.Parse(dump)
	if err != nil {
		panic(err)
	}
	return b
}

// RDSNQueryConfigRequest is wire.md §1.13, the request: a whole RDSN frame
// (216 bytes = 192 header + 24 body) in which a master-cluster meta server
// queries the configuration of table "temp", all partitions:
// RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX, id 1, trace_id 0x1122334455667788,
// from 10.0.0.1:34601, timeout 5000 ms, context 0x441, CRCs off.
const RDSNQueryConfigRequest = `
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

// RDSNQueryConfigResponse is wire.md §1.13, the response to
// RDSNQueryConfigRequest when the table does not exist: a whole RDSN frame
// (250 bytes = 192 header + 58 body) from 10.0.0.2:34601, context 0x440,
// RPC-level ERR_OK, and query_cfg_response{err: ERR_OBJECT_NOT_FOUND} in the
// body.
const RDSNQueryConfigResponse = `
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

// QueryConfigRequestBody is wire.md §1.13, the body of RDSNQueryConfigRequest
// (its rows 00c0 and 00d0, 24 bytes): the one-field wrapper around
// query_cfg_request{app_name: "temp", partition_indices: []}.
const QueryConfigRequestBody = `
00c0: 0c 00 00 0b 00 01 00 00 00 04 74 65 6d 70 0f 00
00d0: 02 08 00 00 00 00 00 00`

// QueryConfigResponseBody is wire.md §1.13, the body of RDSNQueryConfigResponse
// (its rows 00c0 to 00f0, 58 bytes): the one-field wrapper around
// query_cfg_response{err: ERR_OBJECT_NOT_FOUND}, everything else zero or
// empty.
const QueryConfigResponseBody = `
00c0: 0c 00 00 0c 00 01 00 00 00 14 45 52 52 5f 4f 42
00d0: 4a 45 43 54 5f 4e 4f 54 5f 46 4f 55 4e 44 08 00
00e0: 02 00 00 00 00 08 00 03 00 00 00 00 02 00 04 00
00f0: 0f 00 05 0c 00 00 00 00 00 00`

// THFTGetRequestV0 is wire.md §2.7, "Request, v0": a THFT v0 frame (91
// bytes = 48 header + 43 body) of RPC_RRDB_RRDB_GET of hash key "hk1", sort
// key "s", to gpid (2, 5), timeout 1000 ms, thread_hash 15843, partition_hash
// 0xB136B82B96D0C625, seqid 1.
const THFTGetRequestV0 = `
0000: 54 48 46 54 00 00 00 00 00 00 00 30 00 00 00 00
0010: 00 00 00 2b 00 00 00 00 00 00 00 02 00 00 00 05
0020: 00 00 03 e8 00 00 3d e3 b1 36 b8 2b 96 d0 c6 25
0030: 80 01 00 01 00 00 00 11 52 50 43 5f 52 52 44 42
0040: 5f 52 52 44 42 5f 47 45 54 00 00 00 01 0c 00 01
0050: 00 00 00 06 00 03 68 6b 31 73 00`

// THFTGetRequestV1 is wire.md §2.7, "The same request as v1": the request of
// THFTGetRequestV0 with a v1 header (96 bytes = 16 header + 37 meta + the
// same 43 body bytes).
const THFTGetRequestV1 = `
0000: 54 48 46 54 00 00 00 01 00 00 00 25 00 00 00 2b
0010: 08 00 01 00 00 00 02 08 00 02 00 00 00 05 08 00
0020: 03 00 00 03 e8 0a 00 04 b1 36 b8 2b 96 d0 c6 25
0030: 02 00 05 00 00 80 01 00 01 00 00 00 11 52 50 43
0040: 5f 52 52 44 42 5f 52 52 44 42 5f 47 45 54 00 00
0050: 00 01 0c 00 01 00 00 00 06 00 03 68 6b 31 73 00`

// THFTGetResponseOK is wire.md §2.7, "Successful response": the reply to
// THFTGetRequestV0 (102 bytes), RPC-level ERR_OK, RPC_RRDB_RRDB_GET_ACK seqid
// 1, read_response{error: 0, value: "v", app_id: 2, partition_index: 5,
// server: "10.0.0.1:34801"}.
const THFTGetResponseOK = `
0000: 00 00 00 66 00 00 00 06 45 52 52 5f 4f 4b 80 01
0010: 00 02 00 00 00 15 52 50 43 5f 52 52 44 42 5f 52
0020: 52 44 42 5f 47 45 54 5f 41 43 4b 00 00 00 01 0c
0030: 00 00 08 00 01 00 00 00 00 0c 00 02 00 00 00 01
0040: 76 08 00 03 00 00 00 02 08 00 04 00 00 00 05 0b
0050: 00 06 00 00 00 0e 31 30 2e 30 2e 30 2e 31 3a 33
0060: 34 38 30 31 00 00`

// THFTGetResponseNotFound is wire.md §2.7, "RPC-level error response": the
// reply to THFTGetRequestV0 from a replica that does not serve the gpid (61
// bytes), ERR_OBJECT_NOT_FOUND and no body.
const THFTGetResponseNotFound = `
0000: 00 00 00 3d 00 00 00 14 45 52 52 5f 4f 42 4a 45
0010: 43 54 5f 4e 4f 54 5f 46 4f 55 4e 44 80 01 00 02
0020: 00 00 00 15 52 50 43 5f 52 52 44 42 5f 52 52 44
0030: 42 5f 47 45 54 5f 41 43 4b 00 00 00 01`

// PartitionConfiguration is the example of wire.md §3: a bare
// partition_configuration struct (94 bytes, no wrapper) with pid (2, 5),
// ballot 3, max_replica_count 3, primary 127.0.0.1:34601, empty lists,
// last_committed_decree 100, partition_flags 0 and hp_primary
// localhost:34801.
const PartitionConfiguration = `
0000: 0c 00 01 00 00 00 05 00 00 00 02 0a 00 02 00 00
0010: 00 00 00 00 00 03 08 00 03 00 00 00 03 0c 00 04
0020: 7f 00 00 01 87 29 00 01 0f 00 05 0c 00 00 00 00
0030: 0f 00 06 0c 00 00 00 00 0a 00 07 00 00 00 00 00
0040: 00 00 64 08 00 08 00 00 00 00 0c 00 09 00 00 00
0050: 09 6c 6f 63 61 6c 68 6f 73 74 87 f1 01 00`

// DuplicateRequestBody is wire.md §4.6, "A worked body (RDSN) with one PUT
// entry" (93 bytes): the one-field wrapper (id 0) around
// duplicate_request{entries: [{timestamp: 1700000000000000, task_code:
// RPC_RRDB_RRDB_PUT, raw_message: the 33-byte wrapper(update_request{key:
// 00 03 "hk1" "s", value: "v", expire 0}), cluster_id: 1}]}.
const DuplicateRequestBody = `
0000: 0c 00 00 0f 00 01 0c 00 00 00 01 0a 00 01 00 06
0010: 0a 24 18 1e 40 00 0c 00 02 00 00 00 11 52 50 43
0020: 5f 52 52 44 42 5f 52 52 44 42 5f 50 55 54 0c 00
0030: 03 00 00 00 21 0c 00 00 0c 00 01 00 00 00 06 00
0040: 03 68 6b 31 73 0c 00 02 00 00 00 01 76 08 00 03
0050: 00 00 00 00 00 00 03 00 04 01 00 00 00`
