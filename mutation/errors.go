package mutation

import "errors"

// Error classes. Returned errors wrap one of these (errors.Is) and say what
// and where.
var (
	// ErrMalformed: the payload is not a valid encoding of its request
	// (truncated, negative length, wrong wrapper, bad list element type...).
	// The thrift.Error with the offset is wrapped too.
	ErrMalformed = errors.New("mutation: malformed payload")
	// ErrUnknownCode: a task code this package does not model.
	ErrUnknownCode = errors.New("mutation: unknown write code")
	// ErrBadKey: a raw key shorter than 2 bytes or whose hash-key length
	// exceeds the key (storage.md §3.1, pegasus_key_hash's CHECKs).
	ErrBadKey = errors.New("mutation: bad raw key")
	// ErrHashKeyTooLong: a hash key of 65535 bytes or more (storage.md §3.1).
	ErrHashKeyTooLong = errors.New("mutation: hash key too long")
	// ErrNotRoutable: the write has no key to route by (empty write, bulk
	// load, a duplicate entry carrying a DUPLICATE).
	ErrNotRoutable = errors.New("mutation: write has no routing key")
	// ErrBadValue: a RocksDB value too short for its schema, or an unknown
	// value schema version (storage.md §4).
	ErrBadValue = errors.New("mutation: bad value")
)
