package federationapi

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Self-signed certificate files, in the data directory.
const (
	selfSignedCert = "federation-tls.crt"
	selfSignedKey  = "federation-tls.key"
)

// LoadCertificate returns the federation listener's certificate: certFile
// and keyFile when given, or else a self-signed one for serverName kept in
// dataDir (made on first start; for development, as other servers will not
// trust it).
func LoadCertificate(certFile, keyFile, dataDir, serverName string) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return c, fmt.Errorf("federationapi: loading the TLS certificate: %w", err)
		}
		return c, nil
	}
	certPath, keyPath := filepath.Join(dataDir, selfSignedCert), filepath.Join(dataDir, selfSignedKey)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		return c, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("federationapi: loading the self-signed certificate: %w", err)
	}
	if err := writeSelfSigned(certPath, keyPath, serverName); err != nil {
		return tls.Certificate{}, err
	}
	c, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return c, fmt.Errorf("federationapi: loading the new self-signed certificate: %w", err)
	}
	return c, nil
}

// writeSelfSigned makes a self-signed certificate for the host of
// serverName, valid for ten years.
func writeSelfSigned(certPath, keyPath, serverName string) error {
	return IssueCertificate(certPath, keyPath, serverName, 10*365*24*time.Hour, nil, nil)
}

// IssueCertificate writes a P-256 key and a server certificate for the host
// of name (a DNS name or an IP address, with or without a port) valid for
// validity: signed by ca with caKey, or self-signed when ca is nil.
func IssueCertificate(certPath, keyPath, name string, validity time.Duration, ca *x509.Certificate, caKey crypto.Signer) error {
	host := name
	if h, _, err := net.SplitHostPort(name); err == nil {
		host = h
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(trimBrackets(host)); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	parent, signer := tmpl, crypto.Signer(key)
	if ca != nil {
		parent, signer = ca, caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return fmt.Errorf("federationapi: making a certificate for %s: %w", host, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("federationapi: writing the TLS key: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("federationapi: writing the TLS certificate: %w", err)
	}
	return nil
}

// LoadCA reads a CA certificate and its private key (PKCS#1 RSA, SEC 1 EC
// or PKCS#8), PEM-encoded, for IssueCertificate.
func LoadCA(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	der, typ, err := readPEM(certPath)
	if err != nil {
		return nil, nil, err
	}
	if typ != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("%s: a %s, want a CERTIFICATE", certPath, typ)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	der, typ, err = readPEM(keyPath)
	if err != nil {
		return nil, nil, err
	}
	var key any
	switch typ {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(der)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(der)
	default:
		err = fmt.Errorf("unsupported key type %q", typ)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s: the key cannot sign", keyPath)
	}
	return ca, signer, nil
}

// readPEM returns the first PEM block of a file and its type.
func readPEM(path string) ([]byte, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, "", fmt.Errorf("%s holds no PEM block", path)
	}
	return block.Bytes, block.Type, nil
}

func trimBrackets(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}

// LoadCAs returns the system's CAs plus those in caFile (if any), for
// outgoing requests.
func LoadCAs(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("federationapi: reading the CA file: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("federationapi: %s holds no PEM certificate", caFile)
	}
	return pool, nil
}
