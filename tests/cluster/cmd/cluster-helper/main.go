// Command cluster-helper does the small jobs around the real control plane
// that the stdlib-only harness cannot: it writes the PKI and kubeconfigs,
// emits kwok's own default stages, registers the simulated nodes and the
// default StorageClass, and runs the PV provisioner for that class.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	var err error
	switch os.Args[1] {
	case "pki":
		dir := fs.String("dir", "", "directory for keys, certificates and kubeconfigs")
		server := fs.String("server", "", "API server URL written into the kubeconfigs")
		_ = fs.Parse(os.Args[2:])
		err = writePKI(*dir, *server)
	case "kwok-stages":
		_ = fs.Parse(os.Args[2:])
		err = writeStages(os.Stdout)
	case "bootstrap":
		kubeconfig := fs.String("kubeconfig", "", "admin kubeconfig")
		nodes := fs.Int("nodes", 3, "number of simulated nodes")
		_ = fs.Parse(os.Args[2:])
		err = bootstrap(ctx, *kubeconfig, *nodes)
	case "provisioner":
		kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the provisioner")
		_ = fs.Parse(os.Args[2:])
		err = runProvisioner(ctx, *kubeconfig)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster-helper %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cluster-helper pki|kwok-stages|bootstrap|provisioner [flags]")
	os.Exit(2)
}
