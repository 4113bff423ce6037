package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// isListenKey tells the [dupbridge] keys that name an address to listen on:
// listen, http_listen and any later *_listen key, so that a new one is
// checked for clashes without a change here.
func isListenKey(k string) bool { return k == "listen" || strings.HasSuffix(k, "_listen") }

// listenClashes reports two listen-type keys (of [dupbridge] and
// [meta-proxy], which run in one process) that would bind the same port on
// overlapping addresses (the second bind fails at start, or worse, one of
// two wildcard-ish binds shadows the other).
func (p *parser) listenClashes() {
	type bind struct {
		sec, key, value, host, port string
		line                        int
	}
	var seen []bind
	for _, sec := range []string{SectionBridge, SectionMetaProxy} {
		s := p.f.byName[sec]
		if s == nil {
			continue
		}
		for _, k := range s.keys {
			if !isListenKey(k.name) || k.value == "" {
				continue
			}
			host, port, err := net.SplitHostPort(k.value)
			if err != nil || port == "0" {
				continue // reported by the key's own check; port 0 picks a free port
			}
			b := bind{sec: sec, key: k.name, value: k.value, host: host, port: port, line: k.line}
			for _, o := range seen {
				if o.port == b.port && hostsOverlap(o.host, b.host) {
					other := o.key
					if o.sec != sec {
						other = "[" + o.sec + "] " + o.key
					}
					p.errKey(sec, b.key, "%q clashes with %s = %q (line %d): the same port on overlapping addresses",
						b.value, other, o.value, o.line)
				}
			}
			seen = append(seen, b)
		}
	}
}

// hostsOverlap reports whether binds on hosts a and b may share addresses: the
// same host, or either a wildcard (on Linux "::" also takes IPv4).
func hostsOverlap(a, b string) bool {
	na, nb := normalHost(a), normalHost(b)
	return na == nb || na == "*" || nb == "*"
}

func normalHost(h string) string {
	h = strings.ToLower(h)
	if h == "localhost" {
		return "127.0.0.1"
	}
	ip, err := netip.ParseAddr(h)
	if h == "" || err == nil && ip.IsUnspecified() {
		return "*"
	}
	if err == nil {
		return ip.Unmap().String()
	}
	return h
}

// adminAccess requires admin_token or admin_insecure = true when the admin
// HTTP listens beyond loopback: POST /tables/NAME/pause stops a table's
// duplication, and the port would otherwise take it from anyone.
func (p *parser) adminAccess(b *Bridge) {
	if b.HTTPListen == "" || b.AdminToken != "" || b.AdminInsecure || IsLoopbackListen(b.HTTPListen) {
		return
	}
	p.errKey(SectionBridge, "http_listen", "%q is not a loopback address, so anyone who reaches it could pause tables: "+
		"set admin_token (clients send Authorization: Bearer TOKEN), or admin_insecure = true if the network is private",
		b.HTTPListen)
}

// IsLoopbackListen reports whether the listen address host:port only
// accepts local connections (localhost or a loopback IP; "" and 0.0.0.0
// are every interface).
func IsLoopbackListen(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// minTokenLen keeps admin_token out of guessing range (16 characters of
// base64 are 96 bits).
const minTokenLen = 16

// checkToken accepts tokens that survive the INI syntax and an HTTP
// header unchanged: at least minTokenLen characters of base64, base64url
// or hex ('#' and ';' would start a comment).
func checkToken(v string) error {
	if len(v) < minTokenLen {
		return fmt.Errorf("too short (%d characters): use at least %d, e.g. the output of `openssl rand -base64 24`", len(v), minTokenLen)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+/=-_.~", r)) {
			return fmt.Errorf("character %q not allowed: use letters, digits and + / = - _ . ~", r)
		}
	}
	return nil
}

// printable escapes what a terminal must not receive raw: invalid UTF-8 as
// \xNN, other non-printable runes (controls, escapes) as \uNNNN.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
