package hexdump

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Parse reads a hex dump: pairs of hex digits separated by any whitespace
// (or none), with an optional offset prefix ("0000:", hex digits and a colon)
// at the start of each line, which is ignored. It fails on any other
// character and on an odd number of digits.
func Parse(dump string) ([]byte, error) {
	var digits []byte
	for n, line := range strings.Split(dump, "\n") {
		if pre, rest, ok := strings.Cut(line, ":"); ok {
			if off := strings.TrimSpace(pre); off == "" || strings.IndexFunc(off, notHex) >= 0 {
				return nil, fmt.Errorf("hexdump: line %d: bad offset prefix %q", n+1, pre)
			}
			line = rest
		}
		for _, field := range strings.Fields(line) {
			if i := strings.IndexFunc(field, notHex); i >= 0 {
				return nil, fmt.Errorf("hexdump: line %d: not a hex digit: %q", n+1, field[i:])
			}
			digits = append(digits, field...)
		}
	}
	if len(digits)%2 != 0 {
		return nil, errors.New("hexdump: odd number of hex digits")
	}
	b := make([]byte, len(digits)/2)
	if _, err := hex.Decode(b, digits); err != nil {
		return nil, fmt.Errorf("hexdump: %w", err)
	}
	return b, nil
}

// IsDigit reports whether c is a hex digit (either case).
func IsDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func notHex(r rune) bool { return r >= 0x80 || !IsDigit(byte(r)) }
