package relay

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/dupbridge/dupbridge/config"
)

// tlsConfig builds the TLS configuration of one end from the relay_tls_*
// files, or nil when TLS is not configured. A sink with a CA requires and
// verifies client certificates signed by it (mutual TLS); the edge
// verifies the sink against its CA and presents its own certificate when it
// has one.
func tlsConfig(r *config.Relay, server bool) (*tls.Config, error) {
	if !r.TLS() {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if r.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(r.TLSCert, r.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("relay: TLS certificate %s / key %s: %w", r.TLSCert, r.TLSKey, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	var pool *x509.CertPool
	if r.TLSCA != "" {
		pem, err := os.ReadFile(r.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("relay: TLS CA: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("relay: TLS CA %s: no PEM certificate in it", r.TLSCA)
		}
	}
	if server {
		if len(c.Certificates) == 0 {
			return nil, errors.New("relay: a sink needs relay_tls_cert and relay_tls_key for TLS")
		}
		if pool != nil {
			c.ClientCAs = pool
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
		return c, nil
	}
	if pool == nil {
		return nil, errors.New("relay: an edge needs relay_tls_ca to verify the sink")
	}
	c.RootCAs = pool
	host, _, err := net.SplitHostPort(r.Sink)
	if err != nil {
		return nil, fmt.Errorf("relay: relay_sink %q: %w", r.Sink, err)
	}
	c.ServerName = host
	return c, nil
}

// RefusedError is a sink's REFUSE, or a TLS handshake the peer failed.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "relay: refused by the sink: " + e.Reason }

// isRefused reports whether err is a refusal (retrying at once will not help).
func isRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}
