package relay

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pki is a throw-away set of CAs and certificates in a temp dir: "ca" signs
// "sink" and "edge"; "rogueca" signs "rogue".
type pki struct {
	dir  string
	dict string // a trained zstd dictionary file
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	type ca struct {
		cert *x509.Certificate
		key  *ecdsa.PrivateKey
	}
	serial := int64(1)
	issue := func(name string, parent *ca, isCA bool) *ca {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		serial++
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IsCA:        isCA, BasicConstraintsValid: true,
		}
		signer, signKey := tmpl, key
		if parent != nil {
			signer, signKey = parent.cert, parent.key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		kb, _ := x509.MarshalECPrivateKey(key)
		write := func(file, typ string, b []byte) {
			if err := os.WriteFile(filepath.Join(p.dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write(name+".pem", "CERTIFICATE", der)
		write(name+".key", "EC PRIVATE KEY", kb)
		return &ca{cert, key}
	}
	root := issue("ca", nil, true)
	rogue := issue("rogueca", nil, true)
	issue("sink", root, false)
	issue("edge", root, false)
	issue("rogue", rogue, false)

	var samples [][]byte
	for i := 0; i < 500; i++ {
		samples = append(samples, appendPart(nil, samplePart(i)))
	}
	d, err := TrainDict(samples, 8<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	p.dict = filepath.Join(p.dir, "dict.zstd")
	if err := os.WriteFile(p.dict, d.Data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// file is the path of one of the pki's files.
func (p *pki) file(name string) string { return filepath.Join(p.dir, name) }

// tls is the [dupbridge] lines of an end presenting cert and trusting ca.
func (p *pki) tls(cert, ca string) string {
	return fmt.Sprintf("relay_tls_cert = %s\nrelay_tls_key = %s\nrelay_tls_ca = %s\n",
		filepath.Join(p.dir, cert+".pem"), filepath.Join(p.dir, cert+".key"), filepath.Join(p.dir, ca+".pem"))
}
