// Package rpcclient is a pipelined client of Pegasus servers (meta and
// replica servers, or anything that speaks their protocol: the simulator, a
// bridge).
//
// A Conn sends RDSN requests by default (the framing C++ processes use,
// wire.md §0.1), or THFT v0 requests, with the header filled the way the C++
// client fills it (wire.md §1.12 "Sending a request"). Many calls may be in
// flight on one connection; responses are matched by id (wire.md §1.12 step
// 5), so they may come back in any order. A Conn dials lazily and redials on
// the next call after its connection was lost; every call pending on a lost
// connection fails at once with an error wrapping ErrConnClosed, so callers
// can retry. Response bodies are copied: they stay valid for as long as the
// caller keeps them.
//
// A Pool keeps one Conn per address. Meta is a meta-server client over a list
// of meta addresses: it follows leader hints and fails over to other metas
// (wire.md §1.11, §5.3).
package rpcclient
