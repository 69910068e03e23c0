package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"time"
)

// issueCert signs a certificate for a server name with a local CA: for
// private deployments and test networks whose servers trust that CA
// (--tls-ca). The key is P-256; the certificate is valid for 90 days.
func issueCert(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("issue-cert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	caCert := fs.String("ca-cert", "", "PEM certificate of the CA")
	caKey := fs.String("ca-key", "", "PEM private key of the CA (PKCS#1 RSA, SEC 1 EC or PKCS#8)")
	name := fs.String("name", "", "server name (DNS name or IP address) to issue the certificate for")
	certOut := fs.String("cert-out", "", "where to write the certificate (PEM)")
	keyOut := fs.String("key-out", "", "where to write its private key (PEM)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *caCert == "" || *caKey == "" || *name == "" || *certOut == "" || *keyOut == "" {
		fmt.Fprintln(stderr, "issue-cert needs --ca-cert, --ca-key, --name, --cert-out and --key-out")
		return 2
	}
	if err := writeIssuedCert(*caCert, *caKey, *name, *certOut, *keyOut); err != nil {
		fmt.Fprintln(stderr, "issue-cert:", err)
		return 1
	}
	fmt.Fprintf(stdout, "certificate for %s written to %s\n", *name, *certOut)
	return 0
}

func writeIssuedCert(caCertPath, caKeyPath, name, certOut, keyOut string) error {
	ca, err := readPEM(caCertPath, "CERTIFICATE")
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(ca)
	if err != nil {
		return fmt.Errorf("%s: %w", caCertPath, err)
	}
	keyDER, keyType, err := readAnyPEM(caKeyPath)
	if err != nil {
		return err
	}
	signer, err := parseSigner(keyDER, keyType)
	if err != nil {
		return fmt.Errorf("%s: %w", caKeyPath, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return err
	}
	host := name
	if h, _, err := net.SplitHostPort(name); err == nil {
		host = h
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, signer)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	ecDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyOut, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func readPEM(path, want string) ([]byte, error) {
	der, typ, err := readAnyPEM(path)
	if err != nil {
		return nil, err
	}
	if typ != want {
		return nil, fmt.Errorf("%s: a %s, want a %s", path, typ, want)
	}
	return der, nil
}

func readAnyPEM(path string) ([]byte, string, error) {
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

func parseSigner(der []byte, typ string) (crypto.Signer, error) {
	switch typ {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(der)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, errors.New("the key cannot sign")
		}
		return s, nil
	}
	return nil, fmt.Errorf("unsupported key type %q", typ)
}
