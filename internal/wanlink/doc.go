// Package wanlink emulates a wide-area link between two loopback endpoints
// with a real toxiproxy-server, for benchmarks, demos and tests. Only those
// import it; the product never does.
//
// What it guarantees: Start runs a private toxiproxy-server on a free
// 127.0.0.1 port (installed first by `scripts/deps.sh toxiproxy` into the
// repository's .tools/ through internal/testdeps, so a fresh machine
// works), and stops it, and every proxy with it, when the test ends. Server.Link creates a proxy listening
// on 127.0.0.1:0 in front of an upstream address, with a latency toxic in
// each direction (Link.Latency each way, so the round trip grows by twice
// that) and, when Link.RateKBps is set, a bandwidth toxic in each
// direction. Bytes that pass a proxy are counted by the caller's dialer
// (Counter), not by toxiproxy.
//
// How: the server binary is started with exec and waited for on its HTTP
// API; proxies and toxics are created through toxiproxy's own Go client
// (github.com/Shopify/toxiproxy/v2/client, standard library only).
//
// Why a real toxiproxy instead of an in-process delay: the WAN benchmarks
// must measure what the figures measured, with real sockets, TCP
// windows and the proxy's own buffering between the two sides. Note that
// toxiproxy applies toxics per connection: a bandwidth toxic limits each
// connection through the proxy to the rate, not the proxy as a whole.
package wanlink
