package hexdump

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
	}{
		{"", []byte{}},
		{"\n  \n", []byte{}},
		{"0c 00 01", []byte{0x0c, 0, 1}},
		{"0c0001", []byte{0x0c, 0, 1}},
		{"0C 0 0 01", []byte{0x0c, 0, 1}}, // digits pair up across spaces
		{"0000: 0c 00\n0002: 01\n", []byte{0x0c, 0, 1}},
		{"  00c0:\t0c 00\r\n00c2:01", []byte{0x0c, 0, 1}},
		{"0c 0001 00000006\n\t4552525f4f4b", []byte{0x0c, 0, 1, 0, 0, 0, 6, 'E', 'R', 'R', '_', 'O', 'K'}},
	} {
		got, err := Parse(tc.in)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("Parse(%q) = % x, %v; want % x", tc.in, got, err, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"0",                // odd
		"0000: 0c 00 0",    // odd
		"0c\n0",            // odd across lines
		"0g",               // not hex
		"0x0c",             // not hex
		"0c|00",            // not hex
		"0c 00 01 ä",       // not hex
		"zz: 00",           // bad offset
		": 00",             // empty offset
		"00 11: 22",        // a colon inside the data
		"0000: 00: 11",     // a second colon
		"0000 0010: 00 11", // two offsets
	} {
		if b, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = % x, want an error", in, b)
		}
	}
}

// FuzzParse: Parse never panics, and whatever it accepts round-trips: the
// bytes printed as plain hex parse back to themselves.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "0c 00 01", "0000: 0c 00\n0002: 01\n", "zz: 00", "0c 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dump string) {
		b, err := Parse(dump)
		if err != nil {
			return
		}
		if strings.Count(dump, ":") > strings.Count(dump, "\n")+1 {
			t.Fatalf("accepted more offset prefixes than lines: %q", dump)
		}
		again, err := Parse(hex.EncodeToString(b))
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip of % x: % x, %v", b, again, err)
		}
	})
}
