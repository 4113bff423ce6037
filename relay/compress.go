package relay

import (
	"errors"
	"fmt"
	"os"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/zstd"
)

// ErrTooLarge is the zip-bomb guard's refusal: a shipment that claims or
// decompresses to more than the configured bound (docs/relay.md §2.4).
var ErrTooLarge = errors.New("relay: shipment decompresses beyond the bound")

// Dict is a zstd dictionary (the format of `zstd --train`) and its id.
type Dict struct {
	ID   uint32
	Data []byte
}

// LoadDict reads a dictionary file; an empty path is no dictionary.
func LoadDict(path string) (*Dict, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("relay: reading zstd dictionary: %w", err)
	}
	return ParseDict(b)
}

// ParseDict checks a dictionary and reads its id.
func ParseDict(b []byte) (*Dict, error) {
	d, err := zstd.InspectDictionary(b)
	if err != nil {
		return nil, fmt.Errorf("relay: not a zstd dictionary: %w", err)
	}
	if d.ID() == 0 {
		return nil, errors.New("relay: zstd dictionary without an id")
	}
	return &Dict{ID: d.ID(), Data: b}, nil
}

// TrainDict builds a zstd dictionary of at most size bytes from samples of
// traffic (for example spool record payloads) with klauspost's builder.
func TrainDict(samples [][]byte, size int, level int) (*Dict, error) {
	if len(samples) == 0 {
		return nil, errors.New("relay: no samples to train a dictionary from")
	}
	b, err := dict.BuildZstdDict(samples, dict.Options{MaxDictSize: size, HashBytes: 6, ZstdLevel: zstd.EncoderLevelFromZstd(levelZstd(level))})
	if err != nil {
		return nil, fmt.Errorf("relay: training a zstd dictionary: %w", err)
	}
	return ParseDict(b)
}

// levelZstd maps our levels 1..4 (klauspost's fastest .. best) to zstd's
// numeric levels.
func levelZstd(level int) int {
	switch level {
	case 1:
		return 1
	case 3:
		return 7
	case 4:
		return 11
	}
	return 3
}

// Compressor compresses shipments at one level, with an optional
// dictionary. Not safe for concurrent use.
type Compressor struct {
	enc *zstd.Encoder
}

// NewCompressor returns a Compressor for level 1 (fastest) .. 4 (best).
func NewCompressor(level int, d *Dict) (*Compressor, error) {
	opts := []zstd.EOption{zstd.WithEncoderLevel(zstd.EncoderLevel(min(max(level, 1), 4))), zstd.WithEncoderConcurrency(1)}
	if d != nil {
		opts = append(opts, zstd.WithEncoderDict(d.Data))
	}
	enc, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("relay: zstd encoder: %w", err)
	}
	return &Compressor{enc: enc}, nil
}

// Compress appends the zstd frame of raw to dst.
func (c *Compressor) Compress(dst, raw []byte) []byte { return c.enc.EncodeAll(raw, dst) }

// Decompressor decompresses shipments, refusing any that would exceed its
// bound. Not safe for concurrent use.
type Decompressor struct {
	dec   *zstd.Decoder
	bound int
}

// NewDecompressor returns a Decompressor that knows dicts and refuses output
// beyond bound bytes.
func NewDecompressor(bound int, dicts ...*Dict) (*Decompressor, error) {
	opts := []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(bound)),
		zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderMaxWindow(uint64(max(bound, zstd.MinWindowSize)))}
	for _, d := range dicts {
		if d != nil {
			opts = append(opts, zstd.WithDecoderDicts(d.Data))
		}
	}
	dec, err := zstd.NewReader(nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("relay: zstd decoder: %w", err)
	}
	return &Decompressor{dec: dec, bound: bound}, nil
}

// Decompress returns the rawLen bytes data decompresses to, into buf's
// storage. A rawLen above the bound is refused before decoding; output is
// capped at rawLen, and any other size is an error.
func (d *Decompressor) Decompress(buf, data []byte, rawLen int) ([]byte, error) {
	if rawLen > d.bound {
		return buf, fmt.Errorf("%w: claims %d bytes, bound %d", ErrTooLarge, rawLen, d.bound)
	}
	if cap(buf) < rawLen {
		buf = make([]byte, 0, rawLen)
	}
	out, err := d.dec.DecodeAll(data, buf[:0:rawLen])
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) || len(out) >= rawLen {
			return buf, fmt.Errorf("%w: more than the %d bytes claimed: %v", ErrTooLarge, rawLen, err)
		}
		return buf, fmt.Errorf("%w: zstd: %v", ErrProtocol, err)
	}
	if len(out) != rawLen {
		return buf, fmt.Errorf("%w: decompressed to %d bytes, %d claimed", ErrProtocol, len(out), rawLen)
	}
	return out, nil
}

// Close releases the decoder.
func (d *Decompressor) Close() { d.dec.Close() }
