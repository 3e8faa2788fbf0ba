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
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// leaf describes one certificate signed by the cluster CA.
type leaf struct {
	name   string
	cn     string
	orgs   []string
	server bool
	client bool
	dns    []string
	ips    []string
	// kubeconfig, when set, is the file name of a kubeconfig for this identity.
	kubeconfig string
}

var leaves = []leaf{
	{
		name: "apiserver", cn: "kube-apiserver", server: true,
		dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		ips: []string{"127.0.0.1", "10.96.0.1"},
	},
	{name: "etcd-server", cn: "etcd", server: true, client: true,
		dns: []string{"localhost"}, ips: []string{"127.0.0.1"}},
	{name: "apiserver-etcd-client", cn: "kube-apiserver-etcd-client", client: true},
	{name: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", client: true},
	// Serving certificates of the other loopback endpoints, so that clients
	// verify them against the cluster CA. kwok answers the kubelet API of
	// every simulated node on one port.
	{name: "controller-manager-serving", cn: "kube-controller-manager", server: true,
		dns: []string{"localhost"}, ips: []string{"127.0.0.1"}},
	{name: "scheduler-serving", cn: "kube-scheduler", server: true,
		dns: []string{"localhost"}, ips: []string{"127.0.0.1"}},
	{name: "kwok-serving", cn: "kwok-kubelet", server: true,
		dns: []string{"localhost"}, ips: []string{"127.0.0.1"}},
	{name: "admin", cn: "magasin-admin", orgs: []string{"system:masters"}, client: true,
		kubeconfig: "kubeconfig"},
	{name: "controller-manager", cn: "system:kube-controller-manager", client: true,
		kubeconfig: "controller-manager.kubeconfig"},
	{name: "scheduler", cn: "system:kube-scheduler", client: true,
		kubeconfig: "scheduler.kubeconfig"},
	// kwok and the provisioner stand in for kubelets and a CSI driver on every
	// node at once, so they get cluster-admin rather than per-node identities.
	{name: "kwok", cn: "system:kwok-controller", orgs: []string{"system:masters"}, client: true,
		kubeconfig: "kwok.kubeconfig"},
	{name: "provisioner", cn: "system:magasin-provisioner", orgs: []string{"system:masters"},
		client: true, kubeconfig: "provisioner.kubeconfig"},
}

// writePKI creates <dir>/pki and the kubeconfigs in <dir>; files that exist are kept.
func writePKI(dir, server string) error {
	if dir == "" || server == "" {
		return errors.New("-dir and -server are required")
	}
	pkiDir := filepath.Join(dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return err
	}
	caCert, caKey, err := loadOrCreateCA(pkiDir)
	if err != nil {
		return err
	}
	if err := writeSAKey(pkiDir); err != nil {
		return err
	}
	caPEM := pemBlock("CERTIFICATE", caCert.Raw)
	for _, l := range leaves {
		certFile := filepath.Join(pkiDir, l.name+".crt")
		keyFile := filepath.Join(pkiDir, l.name+".key")
		if !exists(certFile) || !exists(keyFile) {
			certDER, keyDER, err := signLeaf(l, caCert, caKey)
			if err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			if err := os.WriteFile(keyFile, pemBlock("EC PRIVATE KEY", keyDER), 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(certFile, pemBlock("CERTIFICATE", certDER), 0o644); err != nil {
				return err
			}
		}
		if l.kubeconfig == "" {
			continue
		}
		certPEM, err := os.ReadFile(certFile)
		if err != nil {
			return err
		}
		keyPEM, err := os.ReadFile(keyFile)
		if err != nil {
			return err
		}
		if err := writeKubeconfig(filepath.Join(dir, l.kubeconfig), server, l.cn, caPEM, certPEM, keyPEM); err != nil {
			return err
		}
	}
	return nil
}

func writeKubeconfig(path, server, user string, caPEM, certPEM, keyPEM []byte) error {
	const name = "magasin-kwok"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user}
	cfg.CurrentContext = name
	// clientcmd.WriteToFile keeps the file mode of an existing file; the
	// kubeconfig holds a private key, so make sure it is private.
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

func loadOrCreateCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if exists(certFile) && exists(keyFile) {
		cert, err := readCert(certFile)
		if err != nil {
			return nil, nil, err
		}
		key, err := readECKey(keyFile)
		if err != nil {
			return nil, nil, err
		}
		return cert, key, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "magasin-kwok-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(keyFile, pemBlock("EC PRIVATE KEY", keyDER), 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certFile, pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func signLeaf(l leaf, ca *x509.Certificate, caKey crypto.Signer) (certDER, keyDER []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.cn, Organization: l.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:     l.dns,
	}
	for _, ip := range l.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	if l.server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if l.client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err = x509.MarshalECPrivateKey(key)
	return certDER, keyDER, err
}

// writeSAKey writes the key pair that signs and verifies service account tokens.
func writeSAKey(dir string) error {
	keyFile, pubFile := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if exists(keyFile) && exists(pubFile) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pemBlock("EC PRIVATE KEY", keyDER), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubFile, pemBlock("PUBLIC KEY", pubDER), 0o644)
}

// readPEM returns the DER bytes of the first PEM block in path.
func readPEM(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM data", path)
	}
	return block.Bytes, nil
}

func readCert(path string) (*x509.Certificate, error) {
	der, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func readECKey(path string) (*ecdsa.PrivateKey, error) {
	der, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	return x509.ParseECPrivateKey(der)
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err)
	}
	return n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
