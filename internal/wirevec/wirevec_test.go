package wirevec

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	"github.com/dupbridge/dupbridge/hexdump"
)

var examples = []struct {
	name string
	dump string
	size int // as wire.md states it
}{
	{"RDSNQueryConfigRequest", RDSNQueryConfigRequest, 192 + 24},
	{"RDSNQueryConfigResponse", RDSNQueryConfigResponse, 192 + 58},
	{"QueryConfigRequestBody", QueryConfigRequestBody, 24},
	{"QueryConfigResponseBody", QueryConfigResponseBody, 58},
	{"THFTGetRequestV0", THFTGetRequestV0, 91},
	{"THFTGetRequestV1", THFTGetRequestV1, 96},
	{"THFTGetResponseOK", THFTGetResponseOK, 102},
	{"THFTGetResponseNotFound", THFTGetResponseNotFound, 61},
	{"PartitionConfiguration", PartitionConfiguration, 0x5e}, // last row 0x50 holds 14 bytes
	{"DuplicateRequestBody", DuplicateRequestBody, 0x5c + 1}, // wrapper STOP at 0x5c (§4.6 table)
}

func TestExampleSizes(t *testing.T) {
	for _, ex := range examples {
		b, err := hexdump.Parse(ex.dump)
		if err != nil {
			t.Errorf("%s: %v", ex.name, err)
			continue
		}
		if len(b) != ex.size {
			t.Errorf("%s: %d bytes, wire.md says %d", ex.name, len(b), ex.size)
		}
	}
}

// TestExampleRows checks the dumps' own offset column: rows of 16 bytes
// whose offsets step by 0x10, so a row lost or cut short in copying shows.
func TestExampleRows(t *testing.T) {
	for _, ex := range examples {
		rows := strings.Split(strings.TrimSpace(ex.dump), "\n")
		var first uint64
		for i, row := range rows {
			pre, rest, ok := strings.Cut(row, ":")
			if !ok {
				t.Fatalf("%s row %d: no offset column", ex.name, i)
			}
			off, err := strconv.ParseUint(pre, 16, 64)
			if err != nil {
				t.Fatalf("%s row %d: offset %q", ex.name, i, pre)
			}
			if i == 0 {
				first = off
			}
			if want := first + uint64(16*i); off != want {
				t.Errorf("%s row %d: offset %#x, want %#x", ex.name, i, off, want)
			}
			n := len(strings.Fields(rest))
			if n != 16 && (i != len(rows)-1 || n == 0 || n > 16) {
				t.Errorf("%s row %d: %d bytes", ex.name, i, n)
			}
		}
	}
}

// TestExampleFields checks the length fields the sections annotate, and
// that the parts shared between examples are the same bytes.
func TestExampleFields(t *testing.T) {
	le32 := func(b []byte, off int) int { return int(binary.LittleEndian.Uint32(b[off:])) }
	be32 := func(b []byte, off int) int { return int(binary.BigEndian.Uint32(b[off:])) }

	// §1.13: hdr_length at 0x08 and body_length at 0x10 (LE); the body
	// constants are the rows from 00c0 on.
	for _, tc := range []struct {
		frame, body string
		bodyLen     int
	}{
		{RDSNQueryConfigRequest, QueryConfigRequestBody, 24},
		{RDSNQueryConfigResponse, QueryConfigResponseBody, 58},
	} {
		f, body := Bytes(tc.frame), Bytes(tc.body)
		if string(f[:4]) != "RDSN" || le32(f, 8) != 192 || le32(f, 0x10) != tc.bodyLen || len(f) != 192+tc.bodyLen {
			t.Errorf("§1.13 header of % x", f[:0x14])
		}
		if !bytes.Equal(f[192:], body) {
			t.Errorf("§1.13 body constant % x differs from the frame's % x", body, f[192:])
		}
	}

	// §2.7 requests: v0 has hdr_length 48 and body_length 43 (BE); v1 has
	// a 37-byte meta and the same 43-byte body.
	v0, v1 := Bytes(THFTGetRequestV0), Bytes(THFTGetRequestV1)
	if string(v0[:4]) != "THFT" || be32(v0, 4) != 0 || be32(v0, 8) != 48 || be32(v0, 0x10) != 43 || len(v0) != 48+43 {
		t.Errorf("§2.7 v0 header % x", v0[:0x18])
	}
	if string(v1[:4]) != "THFT" || be32(v1, 4) != 1 || be32(v1, 8) != 37 || be32(v1, 12) != 43 || len(v1) != 16+37+43 {
		t.Errorf("§2.7 v1 header % x", v1[:0x10])
	}
	if !bytes.Equal(v0[48:], v1[16+37:]) {
		t.Errorf("§2.7 v0 and v1 bodies differ")
	}

	// §2.7 responses: the first word is the length of the whole frame.
	for _, d := range []string{THFTGetResponseOK, THFTGetResponseNotFound} {
		if b := Bytes(d); be32(b, 0) != len(b) {
			t.Errorf("§2.7 response length field %d, frame %d bytes", be32(b, 0), len(b))
		}
	}

	// §4.6: raw_message (length at 0x31) is 33 bytes and ends at 0x56,
	// where cluster_id starts.
	dup := Bytes(DuplicateRequestBody)
	if be32(dup, 0x31) != 33 || !bytes.Equal(dup[0x56:0x5a], []byte{0x03, 0, 4, 1}) {
		t.Errorf("§4.6 raw_message length %d, cluster_id % x", be32(dup, 0x31), dup[0x56:0x5a])
	}

	// §3: starts with the gpid field, pidx first, and ends with the
	// host_port "localhost" 34801 type 1 and the STOP.
	pc := Bytes(PartitionConfiguration)
	if !bytes.HasPrefix(pc, []byte{0x0c, 0, 1, 0, 0, 0, 5, 0, 0, 0, 2}) ||
		!bytes.HasSuffix(pc, append([]byte("\x00\x00\x00\x09localhost"), 0x87, 0xf1, 1, 0)) {
		t.Errorf("§3 partition_configuration % x", pc)
	}
}

func TestBytes(t *testing.T) {
	a, b := Bytes(QueryConfigRequestBody), Bytes(QueryConfigRequestBody)
	a[0] = 0xff
	if b[0] != 0x0c {
		t.Fatal("Bytes calls share their result")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Bytes of a bad dump did not panic")
		}
	}()
	Bytes("0c 0")
}
