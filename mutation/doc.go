// Package mutation is the write model of Pegasus: the typed payloads of every
// write code (storage.md §2.3), raw keys and key hashes (storage.md §3), the
// timetag and the value schema (storage.md §4), and the hot-path codec of
// duplicate_request / duplicate_response (wire.md §4.6).
//
// Two paths:
//
//   - the hot path (PayloadHash, DupIter, DupRequestWriter, ParseCode) walks
//     the bytes with thrift.Reader, hands out sub-slices and allocates
//     nothing per entry;
//   - the cold path (Decode and the Append* encoders) builds and reads the
//     typed model. Decoded byte slices alias the payload; copy them to keep
//     them past the payload's lifetime.
//
// Every payload is the one-field wrapper of storage.md §2.2 around the
// request; any wrapper field id is accepted (0 from C++/RDSN, 1 from the
// THFT args of Go/Java clients). Java omits null non-optional fields, so a
// missing field decodes as zero/empty. Nothing here panics on bad input:
// malformed bytes give errors wrapping ErrMalformed (and the *thrift.Error
// that says where).
package mutation
