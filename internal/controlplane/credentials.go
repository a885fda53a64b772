package controlplane

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// credentials are the files kube-apiserver authenticates with.
type credentials struct {
	token      string // the admin's bearer token, in system:masters
	tokensFile string // --token-auth-file
	saKey      string // --service-account-signing-key-file
	saPub      string // --service-account-key-file
}

// writeCredentials writes a token file with one admin token and a
// service-account RSA key pair into dir.
func writeCredentials(dir string) (credentials, error) {
	c := credentials{
		tokensFile: filepath.Join(dir, "tokens.csv"),
		saKey:      filepath.Join(dir, "sa.key"),
		saPub:      filepath.Join(dir, "sa.pub"),
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return c, fmt.Errorf("generate admin token: %w", err)
	}
	c.token = hex.EncodeToString(tok)
	line := c.token + `,admin,admin,"system:masters"` + "\n"
	if err := os.WriteFile(c.tokensFile, []byte(line), 0o600); err != nil {
		return c, fmt.Errorf("write token file: %w", err)
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return c, fmt.Errorf("generate service-account key: %w", err)
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return c, fmt.Errorf("encode service-account public key: %w", err)
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.WriteFile(c.saKey, priv, 0o600); err != nil {
		return c, fmt.Errorf("write service-account key: %w", err)
	}
	if err := os.WriteFile(c.saPub, pub, 0o644); err != nil {
		return c, fmt.Errorf("write service-account public key: %w", err)
	}
	return c, nil
}
