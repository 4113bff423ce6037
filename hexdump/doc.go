// Package hexdump reads hex dumps as wire.md prints them: rows of hex
// digit pairs with an optional offset column ("00c0:").
//
// Parse returns the bytes, or an error naming the line of the first
// character that is neither a hex digit, whitespace nor an offset prefix;
// an odd number of digits is an error too. Digits pair up across
// whitespace, so "0c 0 0 01" is three bytes.
//
// It is the hex input reader of `dupbridge decode` (framedump) and the
// reader of the wire.md vectors of the tests (internal/wirevec). It lives
// on its own so that the binary reads hex without linking the test vectors.
package hexdump
