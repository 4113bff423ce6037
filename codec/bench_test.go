package codec

import (
	"testing"

	"github.com/dupbridge/dupbridge/internal/wirevec"
)

// Per-frame costs of the framing alone (no body decode), on the wire.md
// example frames.
func BenchmarkDecode(b *testing.B) {
	for _, g := range goldenFrames(b) {
		b.Run(g.name, func(b *testing.B) {
			d := Decoder{Role: g.role}
			b.SetBytes(int64(len(g.b)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := d.Decode(g.b); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendResponse(b *testing.B) {
	rdsn := mustDecode(b, RoleServer, wirevec.Bytes(wirevec.RDSNQueryConfigRequest))
	thft := mustDecode(b, RoleServer, wirevec.Bytes(wirevec.THFTGetRequestV0))
	body := make([]byte, 64)
	dst := make([]byte, 0, 1024)
	for _, req := range []*Frame{&rdsn, &thft} {
		b.Run(req.Framing.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendResponse(dst[:0], req, ErrorOK, 0, body)
			}
		})
	}
}
