package framedump

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/dupbridge/dupbridge/codec"
)

// Options say how to read the stream. An empty string means "auto".
type Options struct {
	// Role: "server" decodes requests, "client" responses, "auto" tells
	// them apart (a stream starting with "THFT" holds requests, one
	// starting with "RDSN" is told per frame by the context bit, anything
	// else is taken as THFT responses, wire.md §2.5).
	Role string
	// Input: "raw", "hex", "tshark" or "auto" (detected).
	Input string
	// Node: which node of tshark follow output to decode ("0", "1" or
	// "auto": the only node that sent data, else node 1 with Role
	// "client" and node 0, the side that opened the connection, otherwise).
	Node string
	// MaxFrameSize is the largest frame accepted (codec.DefaultMaxFrameSize
	// when 0).
	MaxFrameSize int
}

func orAuto(s string) string {
	if s == "" {
		return "auto"
	}
	return s
}

// Dump decodes the whole stream from in and writes one JSON line per frame
// to out. A framing error or a truncated last frame is written as an error
// line and returned.
func Dump(ctx context.Context, in io.Reader, out io.Writer, o Options) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("framedump: reading input: %w", err)
	}
	role := orAuto(o.Role)
	stream, err := parseInput(data, orAuto(o.Input), orAuto(o.Node), role)
	if err != nil {
		return fmt.Errorf("framedump: %w", err)
	}
	d := codec.Decoder{MaxFrameSize: o.MaxFrameSize}
	if d.MaxFrameSize == 0 {
		d.MaxFrameSize = codec.DefaultMaxFrameSize
	}
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
		return fmt.Errorf("framedump: --role %q: want server, client or auto", role)
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
			return fmt.Errorf("framedump: at stream offset %d: %s", off, msg)
		}
		if err := enc.Encode(frameLine(off, &f)); err != nil {
			return fmt.Errorf("framedump: writing output: %w", err)
		}
		off += n
	}
	return nil
}

type errorLine struct {
	Offset int    `json:"offset"`
	Error  string `json:"error"`
}
