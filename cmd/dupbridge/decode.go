package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/dupbridge/dupbridge/codec"
	"github.com/dupbridge/dupbridge/framedump"
)

func newDecodeCmd(_ *globalFlags) *cobra.Command {
	o := framedump.Options{}
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
			err := framedump.Dump(cmd.Context(), in, out, o)
			if ferr := out.Flush(); err == nil && ferr != nil {
				err = fmt.Errorf("decode: writing output: %w", ferr)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Role, "role", "auto", "server (decode requests), client (decode responses) or auto")
	fl.StringVar(&o.Input, "input", "auto", "input format: auto, raw, hex or tshark")
	fl.StringVar(&o.Node, "node", "auto", "tshark follow output: which node's data to decode (0, 1 or auto)")
	fl.IntVar(&o.MaxFrameSize, "max-frame-size", codec.DefaultMaxFrameSize, "largest frame accepted, in bytes")
	return cmd
}
