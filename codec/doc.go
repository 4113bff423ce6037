// Package codec frames Pegasus RPC messages: the native rDSN framing
// ("RDSN", wire.md §1) and the thrift framing used by the Java/Go/Python
// clients ("THFT", wire.md §2), in both directions.
//
// dupbridge is a server toward the master cluster (it decodes requests and
// encodes responses) and a client toward the follower cluster (it encodes
// requests and decodes responses); Decoder.Role picks the direction.
//
// Decoding is incremental and zero-copy: Decoder.Decode looks at the bytes a
// connection has buffered so far and returns ErrNeedMore, a Frame whose slices
// point into that buffer, or a typed error. It allocates nothing on the
// success path. The frame's slices are valid only as long as the buffer is;
// whoever keeps them longer copies them.
//
// Encoding is append-style: AppendRequest / AppendResponse, or Begin* and
// Finish* to write a body in place and patch the lengths afterwards.
package codec
