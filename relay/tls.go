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
// files, or nil when TLS is not configured. The sink requires and verifies
// client certificates signed by the CA (mutual TLS); the edge verifies the
// sink against the CA and presents its own certificate.
func tlsConfig(r *config.Relay, server bool) (*tls.Config, error) {
	if !r.TLS() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(r.TLSCert, r.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("relay: TLS certificate %s / key %s: %w", r.TLSCert, r.TLSKey, err)
	}
	pem, err := os.ReadFile(r.TLSCA)
	if err != nil {
		return nil, fmt.Errorf("relay: TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("relay: TLS CA %s: no PEM certificate in it", r.TLSCA)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if server {
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
		return c, nil
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
