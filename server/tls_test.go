package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dupbridge test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestHTTPS: with http_tls_cert and http_tls_key the HTTP interface speaks
// TLS only; a bad key pair stops the start.
func TestHTTPS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfg := testConfig(t, nil)
	cfg.Bridge.HTTPTLSCert, cfg.Bridge.HTTPTLSKey = certFile, keyFile
	startServer(t, cfg, newFakeShipper(nil, true), func(o *Options) { o.HTTPListen = addr })

	tlsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var resp *http.Response
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err = tlsClient.Get("https://" + addr + "/healthz")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("GET https /healthz: %v %v", resp, err)
	}
	_ = resp.Body.Close()
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP answered on a TLS port")
	}

	bad := testConfig(t, nil)
	bad.Bridge.HTTPTLSCert, bad.Bridge.HTTPTLSKey = keyFile, certFile // swapped
	s, err := New(Options{Config: bad, Shipper: newFakeShipper(nil, true), Listen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "http_tls_cert") {
		t.Errorf("Run with a bad key pair: %v", err)
	}
}

// TestReloadLogLevel: log_level is reloaded into the running level.
func TestReloadLogLevel(t *testing.T) {
	cfg := testConfig(t, nil)
	lvl := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	s, err := New(Options{Config: cfg, Shipper: newFakeShipper(nil, true), LogLevel: &lvl})
	if err != nil {
		t.Fatal(err)
	}
	next := testConfig(t, func(text string) string {
		return strings.Replace(text, "  event_loops = 2\n", "  event_loops = 2\n  log_level = debug\n", 1)
	})
	next.Bridge.StateDir = cfg.Bridge.StateDir
	if _, err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	if lvl.Level() != zapcore.DebugLevel {
		t.Errorf("level %s after reloading log_level = debug", lvl.Level())
	}
}
