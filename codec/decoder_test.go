package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/dupbridge/dupbridge/internal/wirevec"
	"github.com/dupbridge/dupbridge/thrift"
)

type goldenFrame struct {
	name string
	role Role
	b    []byte
}

func goldenFrames(t testing.TB) []goldenFrame {
	return []goldenFrame{
		{"rdsn-request", RoleServer, wirevec.Bytes(wirevec.RDSNQueryConfigRequest)},
		{"rdsn-request-crc", RoleServer, rdsnRequestWithCRC(t)},
		{"rdsn-response", RoleClient, wirevec.Bytes(wirevec.RDSNQueryConfigResponse)},
		{"thft-v0", RoleServer, wirevec.Bytes(wirevec.THFTGetRequestV0)},
		{"thft-v1", RoleServer, wirevec.Bytes(wirevec.THFTGetRequestV1)},
		{"thft-ok", RoleClient, wirevec.Bytes(wirevec.THFTGetResponseOK)},
		{"thft-err", RoleClient, wirevec.Bytes(wirevec.THFTGetResponseNotFound)},
	}
}

// Every strict prefix of a valid frame is ErrNeedMore, never a frame.
func TestDecodePrefixesNeedMore(t *testing.T) {
	for _, g := range goldenFrames(t) {
		for n := 0; n < len(g.b); n++ {
			d := Decoder{Role: g.role}
			// A fresh copy of exactly n bytes, so nothing past it is readable.
			p := append([]byte(nil), g.b[:n]...)
			f, used, err := d.Decode(p)
			if err != ErrNeedMore || used != 0 || f.Raw != nil {
				t.Fatalf("%s: prefix %d: n=%d err=%v", g.name, n, used, err)
			}
		}
	}
}

// Frames back to back, fed in random chunks as a socket delivers them.
func TestDecodeStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	frames := goldenFrames(t)
	// One framing per connection; THFT v0 and v1 may mix (wire.md §2.2).
	for _, conn := range []struct {
		name  string
		role  Role
		parts []string
	}{
		{"rdsn server", RoleServer, []string{"rdsn-request", "rdsn-request-crc", "rdsn-response"}},
		{"rdsn client", RoleClient, []string{"rdsn-response", "rdsn-request"}},
		{"thft server", RoleServer, []string{"thft-v0", "thft-v1"}},
		{"thft client", RoleClient, []string{"thft-ok", "thft-err"}},
	} {
		var stream []byte
		var want [][]byte
		for i := 0; i < 100; i++ {
			name := conn.parts[rng.IntN(len(conn.parts))]
			for _, g := range frames {
				if g.name == name {
					stream = append(stream, g.b...)
					want = append(want, g.b)
				}
			}
		}
		d := Decoder{Role: conn.role}
		var buf []byte
		got := 0
		for len(stream) > 0 {
			k := min(len(stream), 1+rng.IntN(300))
			buf = append(buf, stream[:k]...)
			stream = stream[k:]
			for {
				f, n, err := d.Decode(buf)
				if err == ErrNeedMore {
					break
				}
				if err != nil {
					t.Fatalf("%s: frame %d: %v", conn.name, got, err)
				}
				if !bytes.Equal(f.Raw, want[got]) || n != len(want[got]) {
					t.Fatalf("%s: frame %d differs", conn.name, got)
				}
				got++
				buf = buf[n:]
			}
		}
		if got != len(want) || len(buf) != 0 {
			t.Fatalf("%s: decoded %d of %d frames, %d bytes left", conn.name, got, len(want), len(buf))
		}
	}
}

func TestDecodeZeroAllocs(t *testing.T) {
	for _, g := range goldenFrames(t) {
		d := Decoder{Role: g.role}
		allocs := testing.AllocsPerRun(100, func() {
			if _, _, err := d.Decode(g.b); err != nil {
				t.Fatal(err)
			}
			if _, _, err := d.Decode(g.b[:len(g.b)-1]); err != ErrNeedMore {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per decode", g.name, allocs)
		}
	}
}

func TestEncodeZeroAllocs(t *testing.T) {
	req := mustDecode(t, RoleServer, wirevec.Bytes(wirevec.RDSNQueryConfigRequest))
	thft := mustDecode(t, RoleServer, wirevec.Bytes(wirevec.THFTGetRequestV0))
	body := make([]byte, 100)
	dst := make([]byte, 0, 4096)
	h := goldenQueryCfg()
	hv1 := goldenGet(1)
	allocs := testing.AllocsPerRun(100, func() {
		_ = AppendRequest(dst[:0], FramingRDSN, &h, body)
		_ = AppendRequest(dst[:0], FramingTHFT, &hv1, body)
		_ = AppendResponse(dst[:0], &req, ErrorOK, 0, body)
		_ = AppendResponse(dst[:0], &thft, ErrorBusy, 0, nil)
	})
	if allocs != 0 {
		t.Errorf("%v allocs per encode", allocs)
	}
}

// mutate returns a copy of b with f applied.
func mutate(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }

func TestDecodeBadInput(t *testing.T) {
	rdsn := wirevec.Bytes(wirevec.RDSNQueryConfigRequest)
	rdsnCRC := rdsnRequestWithCRC(t)
	v0 := wirevec.Bytes(wirevec.THFTGetRequestV0)
	v1 := wirevec.Bytes(wirevec.THFTGetRequestV1)
	ok := wirevec.Bytes(wirevec.THFTGetResponseOK)
	le, be := binary.LittleEndian, binary.BigEndian

	cases := []struct {
		name string
		d    Decoder
		in   []byte
		want error
	}{
		// Framing detection (wire.md §0.1).
		{"server garbage", Decoder{}, []byte("XXXXmore"), ErrBadMagic},
		{"server http", Decoder{}, []byte("GET / HTTP/1.1\r\n"), ErrUnsupportedFraming},
		{"server raw", Decoder{}, []byte("_RAW...."), ErrUnsupportedFraming},
		{"rdsn partial bad magic", Decoder{Framing: FramingRDSN}, []byte("RX"), ErrBadMagic},
		{"thft partial bad magic", Decoder{Framing: FramingTHFT}, []byte("TH_"), ErrBadMagic},
		// A later frame on an RDSN connection must still carry the magic.
		{"rdsn bad magic", Decoder{Framing: FramingRDSN}, mutate(rdsn, func(b []byte) []byte { b[3] = 'X'; return b }), ErrBadMagic},
		{"rdsn thft on rdsn conn", Decoder{Framing: FramingRDSN}, v0, ErrBadMagic},
		{"thft bad magic", Decoder{Framing: FramingTHFT}, mutate(v0, func(b []byte) []byte { b[0] = 'X'; return b }), ErrBadMagic},
		// CRCs (wire.md §1.7).
		{"rdsn bad hdr crc", Decoder{}, mutate(rdsnCRC, func(b []byte) []byte { b[12]++; return b }), ErrBadCRC},
		{"rdsn bad body crc", Decoder{}, mutate(rdsnCRC, func(b []byte) []byte { b[20]++; return b }), ErrBadCRC},
		{"rdsn header byte flipped", Decoder{}, mutate(rdsnCRC, func(b []byte) []byte { b[120]++; return b }), ErrBadCRC},
		{"rdsn body byte flipped", Decoder{}, mutate(rdsnCRC, func(b []byte) []byte { b[200]++; return b }), ErrBadCRC},
		{"rdsn body crc only, body flipped", Decoder{}, mutate(rdsnCRC, func(b []byte) []byte { le.PutUint32(b[12:], 0); b[200]++; return b }), ErrBadCRC},
		// Lengths over the limit: reported from the first 20 (RDSN) or 16-20
		// (THFT) or 4 (response) bytes, before the body is buffered.
		{"rdsn over default limit", Decoder{}, mutate(rdsn[:20], func(b []byte) []byte { le.PutUint32(b[16:], 64<<20); return b }), ErrFrameTooLarge},
		{"rdsn max u32", Decoder{}, mutate(rdsn[:20], func(b []byte) []byte { le.PutUint32(b[16:], ^uint32(0)); return b }), ErrFrameTooLarge},
		{"rdsn over small limit", Decoder{MaxFrameSize: 215}, rdsn, ErrFrameTooLarge},
		{"thft v0 over limit", Decoder{}, mutate(v0[:20], func(b []byte) []byte { be.PutUint32(b[16:], 64<<20); return b }), ErrFrameTooLarge},
		{"thft v1 meta over limit", Decoder{}, mutate(v1[:16], func(b []byte) []byte { be.PutUint32(b[8:], ^uint32(0)); return b }), ErrFrameTooLarge},
		{"thft v1 body over limit", Decoder{}, mutate(v1[:16], func(b []byte) []byte { be.PutUint32(b[12:], ^uint32(0)); return b }), ErrFrameTooLarge},
		{"thft v0 over small limit", Decoder{MaxFrameSize: 90}, v0, ErrFrameTooLarge},
		{"response over limit", Decoder{Role: RoleClient}, []byte{0x7f, 0xff, 0xff, 0xff}, ErrFrameTooLarge},
		{"response over small limit", Decoder{Role: RoleClient, MaxFrameSize: 101}, ok, ErrFrameTooLarge},
		// Headers.
		{"rdsn rpc_name without NUL", Decoder{}, mutate(rdsn, func(b []byte) []byte { copy(b[40:88], bytes.Repeat([]byte("A"), 48)); return b }), ErrBadHeader},
		{"rdsn error_name without NUL", Decoder{}, mutate(rdsn, func(b []byte) []byte { copy(b[136:184], bytes.Repeat([]byte("E"), 48)); return b }), ErrBadHeader},
		{"thft hdr_length 47", Decoder{}, mutate(v0[:12], func(b []byte) []byte { be.PutUint32(b[8:], 47); return b }), ErrBadHeader},
		{"thft hdr_length 192", Decoder{}, mutate(v0, func(b []byte) []byte { be.PutUint32(b[8:], 192); return b }), ErrBadHeader},
		{"thft version 2", Decoder{}, mutate(v0[:8], func(b []byte) []byte { be.PutUint32(b[4:], 2); return b }), ErrBadVersion},
		{"thft version max", Decoder{}, mutate(v0, func(b []byte) []byte { be.PutUint32(b[4:], ^uint32(0)); return b }), ErrBadVersion},
		{"thft v1 meta bad type", Decoder{}, mutate(v1, func(b []byte) []byte { b[16] = 0x01; return b }), ErrBadHeader},
		{"thft v1 meta without STOP", Decoder{}, mutate(v1, func(b []byte) []byte {
			// meta_length 36: the meta's STOP byte falls outside the meta.
			be.PutUint32(b[8:], 36)
			be.PutUint32(b[12:], 44)
			return b
		}), ErrBadHeader},
		{"response length 3", Decoder{Role: RoleClient}, []byte{0, 0, 0, 3}, ErrBadHeader},
		{"response length negative", Decoder{Role: RoleClient}, []byte{0x80, 0, 0, 0}, ErrBadHeader},
		{"response empty error name", Decoder{Role: RoleClient}, []byte{0, 0, 0, 8, 0, 0, 0, 0}, ErrBadHeader},
		{"response error name past frame", Decoder{Role: RoleClient}, []byte{0, 0, 0, 8, 0, 0, 0, 9}, ErrBadHeader},
		// TMessage headers (wire.md §2.3, §2.5).
		{"thft request REPLY", Decoder{}, mutate(v0, func(b []byte) []byte { b[0x33] = 2; return b }), ErrBadMessage},
		{"thft request EXCEPTION", Decoder{}, mutate(v0, func(b []byte) []byte { b[0x33] = 3; return b }), ErrBadMessage},
		{"thft request type 5", Decoder{}, mutate(v0, func(b []byte) []byte { b[0x33] = 5; return b }), ErrBadMessage},
		{"thft request bad version", Decoder{}, mutate(v0, func(b []byte) []byte { b[0x31] = 2; return b }), ErrBadMessage},
		{"thft request name past body", Decoder{}, mutate(v0, func(b []byte) []byte { b[0x37] = 0x40; return b }), ErrBadMessage},
		{"thft request body too short", Decoder{}, mutate(v0[:0x36], func(b []byte) []byte { be.PutUint32(b[16:], 6); return b }), ErrBadMessage},
		{"thft response CALL", Decoder{Role: RoleClient}, mutate(ok, func(b []byte) []byte { b[0x11] = 1; return b }), ErrBadMessage},
		{"thft response no seqid", Decoder{Role: RoleClient}, mutate(ok[:0x2b], func(b []byte) []byte { be.PutUint32(b, 0x2b); return b }), ErrBadMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			f, n, err := d.Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got (n=%d, %v), want %v", n, err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *codec.Error", err)
			}
			if n != 0 || f.Raw != nil {
				t.Fatalf("error with a frame: n=%d", n)
			}
			if e.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
}

func TestDecodeRDSNLeniency(t *testing.T) {
	// C++ never checks hdr_version or hdr_length (wire.md §1.1, §1.8), so
	// neither do we; a response decodes in the server role too (§1.10).
	rdsn := wirevec.Bytes(wirevec.RDSNQueryConfigRequest)
	b := mutate(rdsn, func(b []byte) []byte { b[4], b[8] = 7, 48; return b })
	f := mustDecode(t, RoleServer, b)
	if !f.IsRequest {
		t.Error("IsRequest lost")
	}
	resp := mustDecode(t, RoleServer, wirevec.Bytes(wirevec.RDSNQueryConfigResponse))
	if resp.IsRequest || string(resp.ErrorName) != ErrorOK {
		t.Errorf("response in server role: %+v", resp.Header)
	}
	// A THFT request in the server role carrying the non-strict TMessage form
	// (wire.md §0.2) decodes too.
	var w thrift.Writer
	w.String(RPCGet)
	w.I8(thrift.MessageCall)
	w.I32(9)
	args := []byte{0x0c, 0, 1, 0, 0, 0, 0, 0}
	h := goldenGet(0)
	fr := AppendRequest(nil, FramingTHFT, &h, nil)
	fr = append(fr[:THFTv0HeaderSize], w.B...)
	fr = append(fr, args...)
	binary.BigEndian.PutUint32(fr[16:], uint32(len(fr)-THFTv0HeaderSize))
	g := mustDecode(t, RoleServer, fr)
	if g.ID != 9 || string(g.RPCName) != RPCGet || !bytes.Equal(g.Body, args) {
		t.Errorf("non-strict: %+v body %x", g.Header, g.Body)
	}
}

func TestFrameSize(t *testing.T) {
	for _, g := range goldenFrames(t) {
		d := Decoder{Role: g.role}
		minVisible := map[byte]int{'R': 20, 'T': 16}[g.b[0]]
		if g.b[0] == 'T' && g.b[7] == 0 {
			minVisible = 20
		}
		if g.role == RoleClient && g.b[0] != 'R' {
			minVisible = 4
		}
		for n := 0; n <= len(g.b); n++ {
			size, err := d.FrameSize(g.b[:n])
			if n < minVisible {
				if err != ErrNeedMore {
					t.Fatalf("%s: %d bytes: %v", g.name, n, err)
				}
				continue
			}
			if err != nil || size != len(g.b) {
				t.Fatalf("%s: %d bytes: size %d, %v", g.name, n, size, err)
			}
		}
	}
}

// FrameSize on a server connection rejects what Decode rejects, and leaves
// the framing undetected.
func TestFrameSizeBadSignature(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"XXXXmore", ErrBadMagic},
		{"GET / HTTP/1.1", ErrUnsupportedFraming},
		{"RDS", ErrNeedMore},
	} {
		var d Decoder
		if _, err := d.FrameSize([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("FrameSize(%q): %v, want %v", tc.in, err, tc.want)
		}
		if d.Framing != FramingUnknown {
			t.Errorf("FrameSize(%q) set Framing %v", tc.in, d.Framing)
		}
	}
}

func TestDetectFraming(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Framing
		err  error
	}{
		{"RDSN", FramingRDSN, nil},
		{"THFTxxxx", FramingTHFT, nil},
		{"RDS", FramingUnknown, ErrNeedMore},
		{"POST", FramingUnknown, ErrUnsupportedFraming},
		{"rdsn", FramingUnknown, ErrBadMagic},
	} {
		f, err := DetectFraming([]byte(tc.in))
		if f != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("DetectFraming(%q) = %v, %v", tc.in, f, err)
		}
	}
	if FramingRDSN.String() != "RDSN" || FramingTHFT.String() != "THFT" || RoleClient.String() != "client" {
		t.Error("String methods")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	// Field values that are not in any golden vector: negative ids, a
	// backup read, a 47+ character name, CRCs on a response-less request.
	long := "RPC_" + string(bytes.Repeat([]byte("X"), 60))
	for _, f := range []Framing{FramingRDSN, FramingTHFT} {
		for _, v := range []int{0, 1} {
			h := RequestHeader{
				ID: 0xfffffffe, TraceID: 7, RPCName: RPCMultiGet, AppID: -1, PartitionIndex: 1 << 30,
				TimeoutMs: -5, ThreadHash: ThreadHash(-1, 1<<30), PartitionHash: 1<<63 | 5,
				THFTVersion: v, IsBackupRequest: true, CRC: true, FromAddress: MakeAddress([4]byte{1, 2, 3, 4}, 5),
			}
			body := []byte{0x0c, 0, 0, 0, 0, 0, 1, 'k', 0}
			b := AppendRequest([]byte("prefix"), f, &h, body)[6:]
			fr := mustDecode(t, RoleServer, b)
			if string(fr.RPCName) != RPCMultiGet || fr.ID != h.ID || fr.AppID != h.AppID ||
				fr.PartitionIndex != h.PartitionIndex || fr.TimeoutMs != h.TimeoutMs || fr.ThreadHash != h.ThreadHash ||
				fr.PartitionHash != h.PartitionHash || fr.IsBackupRequest != (f == FramingRDSN || v == 1) || !bytes.Equal(fr.Body, body) {
				t.Errorf("%v v%d: %+v", f, v, fr.Header)
			}
			if f == FramingRDSN && (fr.HdrCRC == 0 || fr.BodyCRC == 0 || fr.Context != 0x841 || fr.TraceID != 7) {
				t.Errorf("RDSN CRC/context: %+v", fr.Header)
			}
			// Responses with a long request name: the _ACK name is cut at 47.
			fr.RPCName = []byte(long)
			resp := AppendResponse([]byte("xx"), &fr, ErrorBusy, 0, nil)[2:]
			r := mustDecode(t, RoleClient, resp)
			if string(r.RPCName) != long[:MaxNameLen] || string(r.ErrorName) != ErrorBusy || r.ID != h.ID {
				t.Errorf("%v response: %+v", f, r.Header)
			}
			if len(r.Body) != 0 {
				t.Errorf("%v response body %x", f, r.Body)
			}
		}
	}
	if got := string(AppendAckName(nil, []byte(RPCGet))); got != RPCGet+"_ACK" {
		t.Errorf("AppendAckName = %q", got)
	}
	if got := string(AppendAckName(nil, []byte(long[:45]))); got != long[:45]+"_A" {
		t.Errorf("AppendAckName(45) = %q", got)
	}
}

func TestTHFTRequestNameAsCpp(t *testing.T) {
	// wire.md §2.3: the name is copied into rpc_name truncated to 47
	// characters (strncpy, so it also ends at a NUL).
	for _, tc := range []struct{ name, want string }{
		{RPCGet, RPCGet},
		{RPCGet + "\x00junk", RPCGet},
		{string(bytes.Repeat([]byte("N"), 60)), string(bytes.Repeat([]byte("N"), 47))},
	} {
		h := RequestHeader{ID: 1, RPCName: tc.name}
		f := mustDecode(t, RoleServer, AppendRequest(nil, FramingTHFT, &h, []byte{0x0c, 0, 1, 0, 0, 0, 0, 0}))
		if string(f.RPCName) != tc.want {
			t.Errorf("%q: RPCName %q, want %q", tc.name, f.RPCName, tc.want)
		}
	}
}
