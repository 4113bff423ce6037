// Package framedump renders a captured Pegasus byte stream (one TCP
// direction) as JSON lines, one per RDSN or THFT frame: framing, header
// fields and the decoded body. It is what `dupbridge decode` prints.
//
// What it guarantees: every frame codec.Decoder accepts becomes one line;
// a body that does not decode still gets its line, with body_hex and
// body_error; a framing error or a truncated last frame ends the stream
// with an error line ({"offset", "error"}) and a returned error, never a
// panic. The input may be raw bytes, a hex dump as wire.md prints it
// (hexdump), or "tshark -z follow,tcp,raw" output, detected unless the
// caller says which.
//
// How: the frame is decoded by codec (the product's decoder, so the dump
// shows what the bridge sees), the body by apache/thrift's generated types
// under the one-field wrapper of wire.md §1.9, and the result turned into
// ordered JSON objects by reflection over the generated structs (thrift
// field names and order, rDSN special types in readable form, enums by
// name). Duplicate entries additionally get their raw_message decoded by
// task code and their routing hash (wire.md §4.6).
//
// Why a package: the rendering is a tool of its own, tested on the wire.md
// vectors, and keeps cmd/dupbridge to flag wiring.
package framedump
