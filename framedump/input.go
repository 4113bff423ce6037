package framedump

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/dupbridge/dupbridge/hexdump"
)

// parseInput turns the input into the raw byte stream of one direction.
func parseInput(data []byte, format, node, role string) ([]byte, error) {
	if format == "auto" {
		format = detectInput(data)
	}
	switch format {
	case "raw":
		return data, nil
	case "hex":
		// The dump format of wire.md, which the tests' vectors use too.
		b, err := hexdump.Parse(string(data))
		if err != nil {
			return nil, fmt.Errorf("hex input: %w", err)
		}
		return b, nil
	case "tshark":
		return parseTshark(data, node, role)
	}
	return nil, fmt.Errorf("input %q: want auto, raw, hex or tshark", format)
}

func detectInput(data []byte) string {
	head := data[:min(len(data), 4096)]
	if bytes.Contains(head, []byte("Follow: tcp,raw")) || bytes.HasPrefix(bytes.TrimSpace(head), []byte("====")) {
		return "tshark"
	}
	hasHex := false
	for _, c := range data {
		switch {
		case hexdump.IsDigit(c):
			hasHex = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':':
		default:
			return "raw"
		}
	}
	if !hasHex {
		return "raw"
	}
	return "hex"
}

// parseTshark reads "tshark -z follow,tcp,raw" output: a banner of "===="
// lines and "Follow:", "Filter:", "Node N:" headers, then one hex line per
// segment, tab-indented when node 1 sent it.
func parseTshark(data []byte, node, role string) ([]byte, error) {
	var seg [2][]byte
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "====") || strings.HasPrefix(t, "Follow:") ||
			strings.HasPrefix(t, "Filter:") || strings.HasPrefix(t, "Node ") {
			continue
		}
		n := 0
		if strings.HasPrefix(line, "\t") {
			n = 1
		}
		b, err := hex.DecodeString(t)
		if err != nil {
			return nil, fmt.Errorf("tshark input line %d: %w", i+1, err)
		}
		seg[n] = append(seg[n], b...)
	}
	switch node {
	case "0":
		return seg[0], nil
	case "1":
		return seg[1], nil
	case "auto":
		switch {
		case len(seg[1]) == 0:
			return seg[0], nil
		case len(seg[0]) == 0:
			return seg[1], nil
		case role == "client":
			return seg[1], nil
		}
		// Node 0 opened the connection, so it sent the requests.
		return seg[0], nil
	}
	return nil, fmt.Errorf("node %q: want 0, 1 or auto", node)
}
