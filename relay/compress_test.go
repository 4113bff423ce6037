package relay

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/dupbridge/dupbridge/mutation"
	"github.com/dupbridge/dupbridge/server"
)

// samplePartEntry is a PUT entry with a JSON-ish value.
func samplePartEntry(i int) mutation.DupEntry {
	return mutation.DupEntry{Timestamp: int64(1_700_000_000_000_000 + i), TaskCode: []byte("RPC_RRDB_RRDB_PUT"),
		RawMessage: mutation.AppendPut(nil, 0, mutation.AppendRawKey(nil, []byte(fmt.Sprint("h", i)), []byte("s")), []byte(jsonDoc(i)), 0),
		ClusterID:  1, HasClusterID: true}
}

// samplePart is a part of one PUT entry.
func samplePart(i int) *server.Part {
	var w mutation.DupRequestWriter
	w.Begin(nil, 0)
	e := samplePartEntry(i)
	w.AppendEntry(&e)
	return &server.Part{PartitionIndex: i % 8, PartitionCount: 8, PartitionHash: uint64(i), Entries: 1, Body: w.Finish(),
		FirstTimestamp: e.Timestamp, LastTimestamp: e.Timestamp}
}

func jsonDoc(i int) string {
	r := rand.New(rand.NewSource(int64(i)))
	return fmt.Sprintf(`{"user_id":%d,"name":"user-%d","email":"user%d@example.com","profile":{"age":%d,"country":"%s","tags":["a%d","b%d"]},"score":%d.%d}`,
		r.Intn(1e6), i, i, 18+r.Intn(60), []string{"DE", "CN", "US", "BR"}[r.Intn(4)], r.Intn(9), r.Intn(9), r.Intn(1000), r.Intn(100))
}

// shipmentOf encodes parts from..to as a raw shipment body.
func shipmentOf(from, to int) []byte {
	var raw []byte
	for i := from; i < to; i++ {
		raw = appendShipRecord(raw, uint64(i+1), appendPart(nil, samplePart(i)))
	}
	return raw
}

// Shipments survive compression with and without a dictionary, at every
// level; a dictionary trained from sample traffic shrinks small shipments.
func TestCompressionRoundTrip(t *testing.T) {
	var samples [][]byte
	for i := 0; i < 2000; i++ {
		samples = append(samples, appendPart(nil, samplePart(i)))
	}
	d, err := TrainDict(samples, 16<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	small := shipmentOf(5000, 5004) // a quiet table: four records
	sizes := map[bool]int{}
	for _, withDict := range []bool{false, true} {
		for level := 1; level <= 4; level++ {
			t.Run(fmt.Sprintf("dict=%v/level=%d", withDict, level), func(t *testing.T) {
				var dd *Dict
				if withDict {
					dd = d
				}
				c, err := NewCompressor(level, dd)
				if err != nil {
					t.Fatal(err)
				}
				dec, err := NewDecompressor(1<<20, dd)
				if err != nil {
					t.Fatal(err)
				}
				defer dec.Close()
				for _, raw := range [][]byte{small, shipmentOf(0, 500)} {
					z := c.Compress(nil, raw)
					out, err := dec.Decompress(nil, z, len(raw))
					if err != nil || !bytes.Equal(out, raw) {
						t.Fatalf("round trip of %d bytes: %v", len(raw), err)
					}
				}
				if level == 2 {
					sizes[withDict] = len(c.Compress(nil, small))
				}
			})
		}
	}
	if sizes[true] >= sizes[false] {
		t.Errorf("a trained dictionary did not shrink a small shipment: %d bytes with, %d without", sizes[true], sizes[false])
	}
	t.Logf("small shipment of %d raw bytes: %d compressed without dictionary, %d with", len(small), sizes[false], sizes[true])

	// A decoder without the dictionary cannot read a frame that needs it.
	c, _ := NewCompressor(2, d)
	plain, _ := NewDecompressor(1 << 20)
	defer plain.Close()
	if _, err := plain.Decompress(nil, c.Compress(nil, small), len(small)); err == nil {
		t.Error("a frame compressed with a dictionary decoded without it")
	}
}

// The zip-bomb guard: a shipment that claims more than the bound, or
// decompresses to more than it claims, is refused.
func TestZipBombGuard(t *testing.T) {
	const bound = 1 << 20
	c, _ := NewCompressor(1, nil)
	bomb := c.Compress(nil, make([]byte, 64<<20)) // 64 MiB of zeros, a few KiB on the wire
	dec, err := NewDecompressor(bound)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	cases := []struct {
		name   string
		data   []byte
		rawLen int
		want   error
	}{
		{"claims beyond the bound", bomb, 64 << 20, ErrTooLarge},
		{"claims little, inflates beyond it", bomb, 1000, ErrTooLarge},
		{"claims the bound, inflates beyond it", bomb, bound, ErrTooLarge},
		{"shorter than claimed", c.Compress(nil, []byte("abc")), 10, ErrProtocol},
		{"not zstd", []byte("definitely not zstd"), 10, ErrProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := dec.Decompress(nil, tc.data, tc.rawLen)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if cap(out) > bound {
				t.Fatalf("allocated %d bytes past the bound", cap(out))
			}
		})
	}
}
