package spool

import (
	"bytes"
	"testing"
)

// FuzzDecodeRecord: any bytes decode to a record or an error, never a
// panic, and a decoded record re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, 1, []byte("payload")))
	f.Add(appendRecord(nil, 1<<40, nil))
	f.Add([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		lsn, payload, n, err := decodeRecord(b)
		if err != nil {
			return
		}
		if n > len(b) || !bytes.Equal(appendRecord(nil, lsn, payload), b[:n]) {
			t.Fatalf("decoded record does not re-encode to its %d bytes", n)
		}
	})
}
