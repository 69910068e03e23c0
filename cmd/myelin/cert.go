package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/myelin-im/myelin/federationapi"
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
	ca, key, err := federationapi.LoadCA(*caCert, *caKey)
	if err == nil {
		err = federationapi.IssueCertificate(*certOut, *keyOut, *name, 90*24*time.Hour, ca, key)
	}
	if err != nil {
		fmt.Fprintln(stderr, "issue-cert:", err)
		return 1
	}
	fmt.Fprintf(stdout, "certificate for %s written to %s\n", *name, *certOut)
	return 0
}
