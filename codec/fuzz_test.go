package codec

import (
	"bytes"
	"errors"
	"testing"
)

// Seed corpora: testdata/fuzz/<target>/ holds the wire.md §1.13 and §2.7
// frames and a few broken variants; f.Add adds the same in code so that
// the targets work even without the files.

func FuzzDecodeServer(f *testing.F) {
	for _, g := range goldenFrames(f) {
		f.Add(g.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecodeStream(t, RoleServer, b) })
}

func FuzzDecodeClient(f *testing.F) {
	for _, g := range goldenFrames(f) {
		f.Add(g.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecodeStream(t, RoleClient, b) })
}

// FuzzRequestRoundTrip encodes a request from arbitrary fields, decodes it
// and answers it: the header fields and the body must survive.
func FuzzRequestRoundTrip(f *testing.F) {
	f.Add(true, uint8(0), uint64(1), "RPC_RRDB_RRDB_GET", int32(2), int32(5), uint64(0xB136B82B96D0C625), false, []byte{0x0c, 0, 1, 0, 0, 0, 0, 0})
	f.Add(false, uint8(1), uint64(1<<40), "RPC_CM_LIST_APPS", int32(0), int32(0), uint64(0), true, []byte{})
	f.Fuzz(func(t *testing.T, rdsn bool, version uint8, id uint64, name string, app, pidx int32, hash uint64, crc bool, body []byte) {
		if i := bytes.IndexByte([]byte(name), 0); i >= 0 {
			name = name[:i] // names are C strings
		}
		if len(name) > MaxNameLen {
			name = name[:MaxNameLen]
		}
		fr := FramingTHFT
		if rdsn {
			fr = FramingRDSN
		}
		h := RequestHeader{ID: id, RPCName: name, AppID: app, PartitionIndex: pidx, PartitionHash: hash,
			THFTVersion: int(version % 2), CRC: crc, ThreadHash: ThreadHash(app, pidx), TimeoutMs: int32(id)}
		if !rdsn {
			h.ID = uint64(uint32(id))
		}
		b := AppendRequest(nil, fr, &h, body)
		d := Decoder{Role: RoleServer}
		got, n, err := d.Decode(b)
		if err != nil || n != len(b) {
			t.Fatalf("decode own request: n=%d err=%v", n, err)
		}
		if string(got.RPCName) != name || got.ID != h.ID || got.AppID != app || got.PartitionIndex != pidx ||
			got.PartitionHash != hash || got.ThreadHash != h.ThreadHash || got.TimeoutMs != h.TimeoutMs || !bytes.Equal(got.Body, body) {
			t.Fatalf("round trip: %+v", got.Header)
		}
		resp := AppendResponse(nil, &got, ErrorOK, 0, body)
		dc := Decoder{Role: RoleClient, Framing: fr}
		r, n, err := dc.Decode(resp)
		if err != nil || n != len(resp) || r.ID != h.ID || !bytes.Equal(r.Body, body) ||
			string(r.RPCName) != string(AppendAckName(nil, []byte(name))) {
			t.Fatalf("response: n=%d err=%v %+v", n, err, r.Header)
		}
	})
}

// checkDecodeStream decodes frames from b until an error and checks the
// invariants every frame must satisfy.
func checkDecodeStream(t *testing.T, role Role, b []byte) {
	d := Decoder{Role: role}
	small := Decoder{Role: role, MaxFrameSize: 256}
	off := 0
	for off <= len(b) {
		buf := b[off:]
		fr, n, err := d.Decode(buf)
		if sn, _, serr := small.Decode(buf); serr == nil && len(sn.Raw) > 256 {
			t.Fatalf("small decoder returned a %d-byte frame", len(sn.Raw))
		}
		if err != nil {
			if err != ErrNeedMore {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("untyped error %T: %v", err, err)
				}
			}
			if n != 0 || fr.Raw != nil {
				t.Fatalf("error %v with n=%d", err, n)
			}
			return
		}
		if n <= 0 || n > len(buf) || len(fr.Raw) != n || &fr.Raw[0] != &buf[0] {
			t.Fatalf("bad n=%d for %d bytes", n, len(buf))
		}
		if !within(fr.Raw, fr.Body) || !within(fr.Raw, fr.Message) || !within(fr.Raw, fr.RPCName) {
			t.Fatal("frame slices point outside Raw")
		}
		if bytes.IndexByte(fr.RPCName, 0) >= 0 && fr.Framing == FramingRDSN {
			t.Fatal("NUL in RDSN rpc_name")
		}
		// The frame's strict prefix is incomplete, never a frame or error.
		p := append([]byte(nil), buf[:n-1]...)
		if _, _, err := d.Decode(p); err != ErrNeedMore {
			t.Fatalf("prefix of a frame: %v", err)
		}
		// Any decoded request can be answered, and the answer decodes.
		if fr.IsRequest {
			resp := AppendResponse(nil, &fr, ErrorOK, 0, fr.Body)
			dc := Decoder{Role: RoleClient, Framing: fr.Framing}
			r, rn, err := dc.Decode(resp)
			if err != nil || rn != len(resp) || r.ID != fr.ID || !bytes.Equal(r.Body, fr.Body) {
				t.Fatalf("response to a decoded request: n=%d err=%v", rn, err)
			}
		}
		off += n
	}
}

// within reports whether sub lies inside outer's memory (or is empty).
func within(outer, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	for i := range outer {
		if &outer[i] == &sub[0] {
			return i+len(sub) <= len(outer)
		}
	}
	return false
}
