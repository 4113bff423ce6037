package codec

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/dupbridge/dupbridge/internal/wirevec"
)

// Appendix A / wire.md §1.7: the §1.13 request with CRCs on.
const (
	goldenBodyCRC = 0xB47A9C7B
	goldenHdrCRC  = 0x0558FB1A
)

// rdsnRequestWithCRC is the §1.13 request with both CRC fields filled in
// (LE at offsets 12 and 20) from Appendix A.
func rdsnRequestWithCRC(t testing.TB) []byte {
	b := wirevec.Bytes(wirevec.RDSNQueryConfigRequest)
	putLE32(b[12:], goldenHdrCRC)
	putLE32(b[20:], goldenBodyCRC)
	return b
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// goldenGet is the request header of the §2.7 examples.
func goldenGet(version int) RequestHeader {
	return RequestHeader{
		ID: 1, RPCName: RPCGet, AppID: 2, PartitionIndex: 5, TimeoutMs: 1000,
		ThreadHash: 15843, PartitionHash: 0xB136B82B96D0C625, THFTVersion: version,
	}
}

// goldenQueryCfg is the request header of §1.13.
func goldenQueryCfg() RequestHeader {
	return RequestHeader{
		ID: 1, TraceID: 0x1122334455667788, RPCName: RPCQueryPartitionConfigByIndex,
		Context: ContextCppRequest, FromAddress: MakeAddress([4]byte{10, 0, 0, 1}, 34601), TimeoutMs: 5000,
	}
}

func mustDecode(t testing.TB, role Role, b []byte) Frame {
	t.Helper()
	d := Decoder{Role: role}
	f, n, err := d.Decode(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if n != len(b) {
		t.Fatalf("decode consumed %d of %d bytes", n, len(b))
	}
	return f
}

func TestGoldenRDSN(t *testing.T) {
	req := wirevec.Bytes(wirevec.RDSNQueryConfigRequest)
	resp := wirevec.Bytes(wirevec.RDSNQueryConfigResponse)
	if len(req) != 216 || len(resp) != 250 {
		t.Fatalf("dump sizes %d, %d", len(req), len(resp))
	}

	f := mustDecode(t, RoleServer, req)
	want := Header{
		Framing: FramingRDSN, IsRequest: true, ID: 1, TraceID: 0x1122334455667788,
		RPCName: []byte(RPCQueryPartitionConfigByIndex), Context: 0x441,
		FromAddress: 0x0A00000187290001, TimeoutMs: 5000, ErrorName: []byte{},
	}
	assertHeader(t, f.Header, want)
	if !bytes.Equal(f.Body, req[192:]) || !bytes.Equal(f.Raw, req) || !bytes.Equal(f.Message, f.Body) {
		t.Errorf("body/raw slices wrong")
	}
	if FormatAddress(f.FromAddress) != "10.0.0.1:34601" || f.SerializeFormat() != 1 {
		t.Errorf("from %s format %d", FormatAddress(f.FromAddress), f.SerializeFormat())
	}

	// Re-encode the request from its fields.
	h := goldenQueryCfg()
	if got := AppendRequest(nil, FramingRDSN, &h, f.Body); !bytes.Equal(got, req) {
		t.Errorf("AppendRequest:\n got %x\nwant %x", got, req)
	}

	// The response is built from the request (§1.10).
	fr := mustDecode(t, RoleClient, resp)
	want = Header{
		Framing: FramingRDSN, ID: 1, TraceID: 0x1122334455667788,
		RPCName: []byte(RPCQueryPartitionConfigByIndex + "_ACK"), Context: 0x440,
		FromAddress: 0x0A00000287290001, TimeoutMs: 5000, ErrorName: []byte(ErrorOK),
	}
	assertHeader(t, fr.Header, want)
	from, err := ParseAddress("10.0.0.2:34601")
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendResponse(nil, &f, ErrorOK, from, fr.Body); !bytes.Equal(got, resp) {
		t.Errorf("AppendResponse:\n got %x\nwant %x", got, resp)
	}
}

func TestGoldenRDSNCRC(t *testing.T) {
	// Appendix A check values of CRC-32C itself.
	if got := CRC32C([]byte("123456789")); got != 0xE3069283 {
		t.Errorf("CRC32C(123456789) = %#x", got)
	}
	if got := CRC32C(nil); got != 0 {
		t.Errorf("CRC32C(empty) = %#x", got)
	}
	plain := wirevec.Bytes(wirevec.RDSNQueryConfigRequest)
	if got := CRC32C(plain[192:]); got != goldenBodyCRC {
		t.Errorf("body CRC = %#x, want %#x", got, goldenBodyCRC)
	}
	withCRC := rdsnRequestWithCRC(t)
	h := goldenQueryCfg()
	h.CRC = true
	if got := AppendRequest(nil, FramingRDSN, &h, plain[192:]); !bytes.Equal(got, withCRC) {
		t.Errorf("AppendRequest with CRC:\n got %x\nwant %x", got, withCRC)
	}
	f := mustDecode(t, RoleServer, withCRC)
	if f.HdrCRC != goldenHdrCRC || f.BodyCRC != goldenBodyCRC {
		t.Errorf("CRC fields %#x %#x", f.HdrCRC, f.BodyCRC)
	}
}

func TestGoldenTHFTRequests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dump    string
		version int
		size    int
	}{
		{"v0", wirevec.THFTGetRequestV0, 0, 91},
		{"v1", wirevec.THFTGetRequestV1, 1, 96},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := wirevec.Bytes(tc.dump)
			if len(b) != tc.size {
				t.Fatalf("dump size %d", len(b))
			}
			f := mustDecode(t, RoleServer, b)
			assertHeader(t, f.Header, Header{
				Framing: FramingTHFT, IsRequest: true, ID: 1, RPCName: []byte(RPCGet),
				AppID: 2, PartitionIndex: 5, Context: ContextClientRequest, TimeoutMs: 1000,
				ThreadHash: 15843, PartitionHash: 0xB136B82B96D0C625, THFTVersion: tc.version,
				MessageType: 1,
			})
			args := []byte{0x0c, 0, 1, 0, 0, 0, 6, 0, 3, 'h', 'k', '1', 's', 0}
			if !bytes.Equal(f.Body, args) {
				t.Errorf("body %x, want %x", f.Body, args)
			}
			if !bytes.Equal(f.Message, b[len(b)-43:]) {
				t.Errorf("message %x", f.Message)
			}
			h := goldenGet(tc.version)
			if got := AppendRequest(nil, FramingTHFT, &h, f.Body); !bytes.Equal(got, b) {
				t.Errorf("AppendRequest:\n got %x\nwant %x", got, b)
			}
		})
	}
}

func TestGoldenTHFTResponses(t *testing.T) {
	req := mustDecode(t, RoleServer, wirevec.Bytes(wirevec.THFTGetRequestV0))
	for _, tc := range []struct {
		name    string
		dump    string
		errName string
		size    int
		body    int // body length
	}{
		{"ok", wirevec.THFTGetResponseOK, ErrorOK, 102, 55},
		{"error", wirevec.THFTGetResponseNotFound, ErrorObjectNotFound, 61, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := wirevec.Bytes(tc.dump)
			if len(b) != tc.size {
				t.Fatalf("dump size %d", len(b))
			}
			f := mustDecode(t, RoleClient, b)
			assertHeader(t, f.Header, Header{
				Framing: FramingTHFT, ID: 1, RPCName: []byte(RPCGet + "_ACK"),
				ErrorName: []byte(tc.errName), MessageType: 2,
			})
			if len(f.Body) != tc.body || !bytes.Equal(f.Body, b[len(b)-tc.body:]) {
				t.Errorf("body %x", f.Body)
			}
			if got := AppendResponse(nil, &req, tc.errName, 0, f.Body); !bytes.Equal(got, b) {
				t.Errorf("AppendResponse:\n got %x\nwant %x", got, b)
			}
		})
	}
}

func TestGoldenAddressGpid(t *testing.T) {
	// Appendix A: rpc_address 10.0.0.1:34601 and gpid (2, 5).
	a, err := ParseAddress("10.0.0.1:34601")
	if err != nil || a != 0x0A00000187290001 {
		t.Fatalf("ParseAddress = %#x, %v", a, err)
	}
	if s := FormatAddress(a); s != "10.0.0.1:34601" {
		t.Errorf("FormatAddress = %q", s)
	}
	if a := MakeAddress([4]byte{127, 0, 0, 1}, 34601); a != 0x7F00000187290001 {
		t.Errorf("127.0.0.1:34601 = %#x", a)
	}
	if ap, ok := AddressToAddrPort(a); !ok || ap.String() != "10.0.0.1:34601" {
		t.Errorf("AddressToAddrPort = %v %v", ap, ok)
	}
	for _, bad := range []string{"localhost:1", "[::1]:80", "10.0.0.1"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%q) accepted", bad)
		}
	}
	if FormatAddress(0) != "" || FormatAddress(2) != "invalid(0x0000000000000002)" {
		t.Errorf("FormatAddress of non-IPv4: %q %q", FormatAddress(0), FormatAddress(2))
	}
	if v := GpidValue(2, 5); v != 0x0000000500000002 {
		t.Errorf("GpidValue = %#x", v)
	}
	if app, p := SplitGpid(0x0000000500000002); app != 2 || p != 5 {
		t.Errorf("SplitGpid = %d %d", app, p)
	}
	if ThreadHash(2, 5) != 15843 {
		t.Errorf("ThreadHash = %d", ThreadHash(2, 5))
	}
	if s := FormatGpid(2, 5); s != "2.5" {
		t.Errorf("FormatGpid = %q", s)
	}
	if app, p, err := ParseGpid("2.5"); err != nil || app != 2 || p != 5 {
		t.Errorf("ParseGpid = %d %d %v", app, p, err)
	}
	for _, bad := range []string{"", "2", "2.", ".5", "a.b"} {
		if _, _, err := ParseGpid(bad); err == nil {
			t.Errorf("ParseGpid(%q) accepted", bad)
		}
	}
}

func assertHeader(t *testing.T, got, want Header) {
	t.Helper()
	if !bytes.Equal(got.RPCName, want.RPCName) {
		t.Errorf("RPCName %q, want %q", got.RPCName, want.RPCName)
	}
	if !bytes.Equal(got.ErrorName, want.ErrorName) {
		t.Errorf("ErrorName %q, want %q", got.ErrorName, want.ErrorName)
	}
	got.RPCName, want.RPCName, got.ErrorName, want.ErrorName = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("header\n got %+v\nwant %+v", got, want)
	}
}
